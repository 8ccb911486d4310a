//! The casevault web interface: every page's HTML shell, the static assets (CSS, JavaScript,
//! icons) and the UI strings in French, English and German, all embedded in the binary.
//!
//! Pages are thin: the server renders a page's skeleton with its strings, the signed-in
//! user's name and the session's CSRF token, and the page's script fills it in from the JSON
//! API, so the browser and the API see exactly the same rules. Nothing here knows about
//! HTTP servers or storage.
//!
//! ```
//! use casevault_web::{Lang, Page, Shell, asset};
//!
//! let shell = Shell::new(Lang::negotiate(None, Some("fr-CH, fr;q=0.9")), Page::Login);
//! let html = shell.render().expect("templates render");
//! assert!(html.contains("lang=\"fr\""));
//! assert!(asset("js/app.js").is_some());
//! ```

mod assets;
mod i18n;
mod pages;

pub use assets::{Asset, asset};
pub use i18n::{Catalog, Lang};
pub use pages::{Page, Shell, Viewer};
