//! The signed-in user's interface preferences: `GET/PATCH /api/v1/preferences` (case label
//! names and colours, e-mail notifications).

use axum::extract::State;
use casevault_storage::{Label, Notifications, Preferences};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::AppState;

/// Most labels one user may define.
const MAX_LABELS: usize = 32;
/// Longest label name, in characters.
const MAX_LABEL_CHARS: usize = 40;

/// A case label.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelView {
    /// Stable id (what cases store).
    pub id: u32,
    /// Name.
    pub name: String,
    /// Colour, `#rrggbb`.
    pub colour: String,
}

/// Which e-mails the user wants.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationsView {
    /// Files dropped into one of their shares.
    pub drops: bool,
    /// Downloads from one of their links.
    pub downloads: bool,
    /// Shares about to expire.
    pub expiry: bool,
}

/// The preferences.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesView {
    /// Case labels, in display order.
    pub labels: Vec<LabelView>,
    /// Notifications.
    pub notify: NotificationsView,
}

/// A change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesChange {
    /// The whole new list of labels.
    pub labels: Option<Vec<LabelView>>,
    /// New notification choices.
    pub notify: Option<NotificationsView>,
}

impl From<Preferences> for PreferencesView {
    fn from(prefs: Preferences) -> Self {
        Self {
            labels: prefs
                .labels
                .into_iter()
                .map(|l| LabelView {
                    id: l.id,
                    name: l.name,
                    colour: l.colour,
                })
                .collect(),
            notify: NotificationsView {
                drops: prefs.notify.drops,
                downloads: prefs.notify.downloads,
                expiry: prefs.notify.expiry,
            },
        }
    }
}

/// The caller's preferences (defaults until changed).
#[utoipa::path(get, path = "/api/v1/preferences", tag = "auth", responses((status = 200, body = PreferencesView), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<PreferencesView>, ApiError> {
    Ok(Json(
        state.storage.meta().preferences(user.id).await?.into(),
    ))
}

/// Changes the caller's preferences; 400 for a bad label (duplicate id, empty or long name,
/// colour not `#rrggbb`).
#[utoipa::path(patch, path = "/api/v1/preferences", tag = "auth", request_body = PreferencesChange, responses((status = 200, body = PreferencesView), (status = 400, body = crate::openapi::ErrorBody), (status = 401, body = crate::openapi::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Json(change): Json<PreferencesChange>,
) -> Result<Json<PreferencesView>, ApiError> {
    let meta = state.storage.meta();
    let mut prefs = meta.preferences(user.id).await?;
    if let Some(labels) = change.labels {
        prefs.labels = check_labels(labels)?;
    }
    if let Some(notify) = change.notify {
        prefs.notify = Notifications {
            drops: notify.drops,
            downloads: notify.downloads,
            expiry: notify.expiry,
        };
    }
    meta.set_preferences(user.id, prefs.clone()).await?;
    Ok(Json(prefs.into()))
}

fn check_labels(labels: Vec<LabelView>) -> Result<Vec<Label>, ApiError> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::BadRequest(format!(
            "At most {MAX_LABELS} labels can be defined."
        )));
    }
    let mut out: Vec<Label> = Vec::with_capacity(labels.len());
    for label in labels {
        let name = label.name.trim().to_owned();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_LABEL_CHARS || name.chars().any(char::is_control) {
            return Err(ApiError::BadRequest(format!(
                "A label name must have 1 to {MAX_LABEL_CHARS} characters."
            )));
        }
        let colour = label.colour.to_ascii_lowercase();
        let hex = colour.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::BadRequest(
                "A label colour must be written #rrggbb.".into(),
            ));
        }
        if out.iter().any(|l| l.id == label.id) {
            return Err(ApiError::BadRequest("Two labels have the same id.".into()));
        }
        out.push(Label {
            id: label.id,
            name,
            colour,
        });
    }
    Ok(out)
}
