//! The "API Tokens" page: three files built into the binary, served at
//! [`PAGE`] with a Content-Security-Policy that allows only them (no inline
//! script or style, no other origin, no framing), and Trusted Types, so an
//! `innerHTML` with a string throws instead of parsing data as markup.

use axum::Router;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// Where the page is served (`/` redirects here).
pub const PAGE: &str = "/tokens";

/// Only the page's own script, style and API; nothing inline, no plugin,
/// no form posts, never in a frame, no `<base>`; string-to-markup sinks
/// refused (Trusted Types).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; \
     base-uri 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

const HTML: &str = include_str!("assets/tokens.html");
const SCRIPT: &str = include_str!("assets/tokens.js");
const STYLE: &str = include_str!("assets/tokens.css");

pub(super) fn router() -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { Redirect::to(PAGE) }).fallback(super::method_not_allowed),
        )
        .route(
            PAGE,
            get(|| async { asset("text/html; charset=utf-8", HTML) })
                .fallback(super::method_not_allowed),
        )
        .route(
            "/tokens/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) })
                .fallback(super::method_not_allowed),
        )
        .route(
            "/tokens/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) })
                .fallback(super::method_not_allowed),
        )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 7] = [
        (CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
        // A new binary may ship a new page: always ask.
        (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    (headers, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSP forbids inline code; the page must not need any.
    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let lower = HTML.to_ascii_lowercase();
        assert!(!lower.contains("<style"));
        assert!(!lower.contains(" style="));
        let handler = regex::Regex::new(r"<[^>]*\son[a-z]+\s*=").expect("regex");
        assert!(!handler.is_match(&lower), "an inline event handler");
        // The control: the check sees one.
        assert!(handler.is_match(r#"<button type="button" onclick="x()">"#));
        assert_eq!(lower.matches("<script").count(), 1);
        assert!(lower.contains(r#"<script src="/tokens/app.js" defer></script>"#));
        assert!(lower.contains(r#"href="/tokens/style.css""#));
        // No other origin.
        assert!(!lower.contains("http:") && !lower.contains("https:") && !lower.contains("//cdn"));
    }

    /// Data reaches the page through textContent only.
    #[test]
    fn the_script_never_parses_data_as_markup() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(sink), "{sink}");
        }
        // Nor stores the token anywhere but in memory.
        for store in [
            "localStorage",
            "sessionStorage",
            "document.cookie",
            "indexedDB",
        ] {
            assert!(!SCRIPT.contains(store), "{store}");
        }
    }

    /// The ids of the inputs and selects of `html` that no label names,
    /// and how many there are in all.
    fn unlabeled(html: &str) -> (Vec<String>, usize) {
        let mut missing = Vec::new();
        let mut inputs = 0;
        for tag in ["<input", "<select"] {
            for (at, _) in html.match_indices(tag) {
                let text = &html[at..];
                let text = &text[..text.find('>').unwrap_or(text.len())];
                let id = text
                    .split("id=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .unwrap_or("");
                if id.is_empty() || !html.contains(&format!("for=\"{id}\"")) {
                    missing.push(id.to_string());
                }
                inputs += 1;
            }
        }
        (missing, inputs)
    }

    #[test]
    fn every_input_has_a_label() {
        assert_eq!(unlabeled(HTML), (vec![], 6));
        // The control: an input without a label is caught.
        let extra = HTML.replace("</main>", "<input id=\"stray\"></main>");
        assert_eq!(unlabeled(&extra).0, ["stray"]);
    }
}
