//! First-administrator setup: while no account exists, each start creates a one-time setup
//! token, stores its hash and prints a link `{public_url}/setup#{token}` on the console. The
//! token is in the fragment, so browsers never send it in requests, logs or `Referer`; the
//! setup page posts it to `POST /api/v1/setup`, which creates the administrator and
//! consumes the token.

use casevault_crypto::Token;

use crate::error::ApiError;
use crate::server::Server;
use crate::state::AppState;

/// Creates and stores a fresh setup token when no user exists (replacing any earlier one)
/// and returns it; once an account exists, forgets any leftover token and returns `None`.
pub async fn ensure_setup_token(state: &AppState) -> Result<Option<Token>, ApiError> {
    let meta = state.storage.meta();
    if meta.has_users().await? {
        meta.set_setup_token(None).await?;
        return Ok(None);
    }
    let token = Token::generate();
    meta.set_setup_token(Some(token.hash())).await?;
    Ok(Some(token))
}

/// The setup link for `token`.
pub fn setup_link(public_url: &str, token: &Token) -> String {
    format!("{public_url}/setup#{}", token.as_str())
}

/// At `serve`: when no account exists, prints the setup link on the console.
pub async fn announce(server: &Server) -> Result<(), String> {
    let token = ensure_setup_token(server.state())
        .await
        .map_err(|err| format!("cannot create the setup token: {err}"))?;
    if let Some(token) = token {
        println!(
            "No account exists yet. Create the first administrator here (valid once, until the next restart):\n  {}",
            setup_link(server.public_url(), &token)
        );
    }
    Ok(())
}
