//! The pages: one template each, all sharing the layout in `templates/base.html`.

use askama::Template;

use crate::i18n::Lang;

/// A page of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// Sign-in.
    Login,
    /// First-administrator setup from the console link.
    Setup,
    /// The dashboard: the practice's cases.
    Cases,
    /// One case: documents, shares, history.
    Case,
    /// Every share of the signed-in owner.
    Shares,
    /// Quota, password, API tokens, notifications.
    Account,
    /// Organisations the user administers.
    Org,
    /// What a share link's recipient sees (no account).
    Link,
    /// Accepting an invitation to an organisation (no account yet).
    Invite,
    /// No such page.
    NotFound,
}

impl Page {
    /// The name of the page's script (`static/js/<name>.js`) and its `data-page`.
    pub fn name(self) -> &'static str {
        match self {
            Page::Login => "login",
            Page::Setup => "setup",
            Page::Cases => "cases",
            Page::Case => "case",
            Page::Shares => "shares",
            Page::Account => "account",
            Page::Org => "org",
            Page::Link => "link",
            Page::Invite => "invite",
            Page::NotFound => "app",
        }
    }

    /// Whether the page is only for signed-in users.
    pub fn needs_sign_in(self) -> bool {
        matches!(
            self,
            Page::Cases | Page::Case | Page::Shares | Page::Account | Page::Org
        )
    }
}

/// The signed-in user, as the layout shows them.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The user's id, for the scripts to tell their own cases from shared ones.
    pub id: String,
    /// Name shown in the header.
    pub name: String,
    /// Server administrator.
    pub is_admin: bool,
    /// The session's CSRF token, for the scripts' state-changing requests.
    pub csrf: String,
}

/// Everything a page is rendered from.
#[derive(Clone, Debug)]
pub struct Shell {
    lang: Lang,
    page: Page,
    viewer: Option<Viewer>,
}

impl Shell {
    /// `page` in `lang`, for an anonymous visitor.
    pub fn new(lang: Lang, page: Page) -> Self {
        Self {
            lang,
            page,
            viewer: None,
        }
    }

    /// The same page for a signed-in user.
    pub fn signed_in(mut self, viewer: Viewer) -> Self {
        self.viewer = Some(viewer);
        self
    }

    /// The page's HTML.
    pub fn render(&self) -> Result<String, askama::Error> {
        let s = self;
        match self.page {
            Page::Login => LoginPage { s }.render(),
            Page::Setup => SetupPage { s }.render(),
            Page::Cases => CasesPage { s }.render(),
            Page::Case => CasePage { s }.render(),
            Page::Shares => SharesPage { s }.render(),
            Page::Account => AccountPage { s }.render(),
            Page::Org => OrgPage { s }.render(),
            Page::Link => LinkPage { s }.render(),
            Page::Invite => InvitePage { s }.render(),
            Page::NotFound => NotFoundPage { s }.render(),
        }
    }

    /// The message `key` in the page's language.
    pub fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.lang.catalog().get(key)
    }

    fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    fn messages_json(&self) -> &'static str {
        self.lang.catalog().json()
    }

    fn page_name(&self) -> &'static str {
        self.page.name()
    }

    fn is(&self, name: &str) -> bool {
        self.page.name() == name
    }

    fn viewer_name(&self) -> &str {
        self.viewer.as_ref().map_or("", |v| v.name.as_str())
    }

    fn signed_in_view(&self) -> bool {
        self.viewer.is_some()
    }

    fn user_id(&self) -> &str {
        self.viewer.as_ref().map_or("", |v| v.id.as_str())
    }

    fn csrf(&self) -> &str {
        self.viewer.as_ref().map_or("", |v| v.csrf.as_str())
    }

    fn languages(&self) -> Vec<(&'static str, &'static str, bool)> {
        Lang::ALL
            .into_iter()
            .map(|lang| (lang.code(), lang.native_name(), lang == self.lang))
            .collect()
    }
}

macro_rules! page_templates {
    ($($name:ident => $path:literal),+ $(,)?) => {
        $(
            #[derive(Template)]
            #[template(path = $path)]
            struct $name<'a> {
                s: &'a Shell,
            }
        )+
    };
}

page_templates! {
    LoginPage => "login.html",
    SetupPage => "setup.html",
    CasesPage => "cases.html",
    CasePage => "case.html",
    SharesPage => "shares.html",
    AccountPage => "account.html",
    OrgPage => "org.html",
    LinkPage => "link.html",
    InvitePage => "invite.html",
    NotFoundPage => "not_found.html",
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGES: [Page; 10] = [
        Page::Login,
        Page::Setup,
        Page::Cases,
        Page::Case,
        Page::Shares,
        Page::Account,
        Page::Org,
        Page::Link,
        Page::Invite,
        Page::NotFound,
    ];

    fn viewer(name: &str) -> Viewer {
        Viewer {
            id: "0123456789abcdef0123456789abcdef".into(),
            name: name.into(),
            is_admin: false,
            csrf: "csrf-token".into(),
        }
    }

    #[test]
    fn every_page_renders_in_every_language_without_raw_keys() {
        for lang in Lang::ALL {
            for page in PAGES {
                let html = Shell::new(lang, page)
                    .signed_in(viewer("Dr A"))
                    .render()
                    .unwrap_or_else(|e| panic!("{page:?} in {lang:?}: {e}"));
                assert!(html.contains(&format!("<html lang=\"{}\"", lang.code())));
                assert!(
                    html.contains(&format!("src=\"/static/js/{}.js\"", page.name())),
                    "{page:?} loads its script"
                );
                // Rendered text never shows a catalogue key (`area.key`) for lack of a string.
                let text_only: String = html
                    .split('<')
                    .filter_map(|part| part.split_once('>').map(|(_, text)| text))
                    .collect();
                for key in lang.catalog().keys() {
                    assert!(
                        !text_only.contains(key),
                        "{page:?} in {lang:?} shows the raw key {key}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_a_new_case_chooses_its_quota_account() {
        let render = |page| {
            Shell::new(Lang::En, page)
                .signed_in(viewer("Dr A"))
                .render()
                .expect("renders")
        };
        for page in [Page::Cases, Page::Case] {
            let html = render(page);
            assert!(html.contains("id=\"case-patient\""), "{page:?}");
            assert!(html.contains("id=\"case-comments\""), "{page:?}");
        }
        assert!(render(Page::Cases).contains("id=\"case-org\""));
        assert!(!render(Page::Case).contains("id=\"case-org\""));
    }

    #[test]
    fn user_strings_are_escaped() {
        let html = Shell::new(Lang::En, Page::Cases)
            .signed_in(viewer("<svg onload=alert(1)>\"x"))
            .render()
            .expect("renders");
        assert!(!html.contains("<svg onload"));
        assert!(
            html.contains("&lt;svg onload=alert(1)&gt;")
                || html.contains("&#60;svg onload=alert(1)&#62;"),
            "the name shows as text"
        );
    }

    #[test]
    fn the_csrf_token_reaches_the_scripts_only_when_signed_in() {
        let anonymous = Shell::new(Lang::En, Page::Login).render().expect("renders");
        assert!(anonymous.contains("data-csrf=\"\""));
        let signed_in = Shell::new(Lang::En, Page::Cases)
            .signed_in(viewer("Dr A"))
            .render()
            .expect("renders");
        assert!(signed_in.contains("data-csrf=\"csrf-token\""));
    }
}
