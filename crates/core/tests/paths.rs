//! The shared path-guard cases (`testdata/path-cases.json`) against
//! `PathPrefix`, the rule every surface with a path guard calls.

use serde_json::Value;
use whatsgate_auth::PathPrefix;
use whatsgate_auth_test_support::{PATH_CASES, load_json};

fn cases() -> Value {
    load_json(PATH_CASES)
}

#[test]
fn prefixes_normalize_as_the_corpus_says() {
    let cases = cases();
    let prefixes = cases["prefixes"].as_array().expect("prefixes");
    assert!(prefixes.len() >= 10);
    for case in prefixes {
        let prefix = case["prefix"].as_str().expect("prefix");
        let got = PathPrefix::new(prefix).ok().map(|p| p.as_str().to_owned());
        assert_eq!(got.as_deref(), case["normal"].as_str(), "prefix {prefix:?}");
    }
}

#[test]
fn prefixes_cover_the_paths_the_corpus_says() {
    let cases = cases();
    let covers = cases["covers"].as_array().expect("covers");
    assert!(covers.len() >= 20);
    for case in covers {
        let (prefix, path) = (
            case["prefix"].as_str().expect("prefix"),
            case["path"].as_str().expect("path"),
        );
        let want = case["covered"].as_bool().expect("covered");
        let prefix = PathPrefix::new(prefix).expect("the corpus's prefixes are valid");
        assert_eq!(prefix.covers(path), want, "{prefix:?} covers {path:?}");
    }
}
