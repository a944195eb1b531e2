//! Unit tests of the adapters module.
use super::*;

#[test]
fn urls_append_encoded_segments() {
    let u = endpoint_url(
        "http://h:1/v1beta",
        &["models", "a/b?c:streamGenerateContent"],
    )
    .unwrap();
    assert_eq!(
        u.as_str(),
        "http://h:1/v1beta/models/a%2Fb%3Fc:streamGenerateContent"
    );
    let u = endpoint_url("https://api.openai.com/v1/", &["chat", "completions"]).unwrap();
    assert_eq!(u.as_str(), "https://api.openai.com/v1/chat/completions");
}

#[test]
fn status_errors_are_readable() {
    let e = status_error(
        StatusCode::BAD_REQUEST,
        br#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#,
        None,
        Some("x"),
    );
    assert_eq!(e, LlmError::UnknownModel("x".into()));
    let e = status_error(
        StatusCode::BAD_GATEWAY,
        b"<html>bad gateway</html>",
        None,
        Some("x"),
    );
    assert_eq!(
        e,
        LlmError::Upstream {
            status: 502,
            message: "<html>bad gateway</html>".into()
        }
    );
    let e = status_error(
        StatusCode::BAD_REQUEST,
        br#"{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}"#,
        None,
        Some("g"),
    );
    assert_eq!(e, LlmError::Unauthorized("API key not valid.".into()));
}

#[test]
fn keys_are_scrubbed() {
    let e = scrub(
        LlmError::Unauthorized("bad key sk-1234".into()),
        Some("sk-1234"),
    );
    assert_eq!(
        e.to_string(),
        "the provider rejected the API key: bad key ***"
    );
}

#[test]
fn retry_after_comes_from_the_rate_limit_headers() {
    use reqwest::header::{HeaderMap, HeaderValue};
    let h = |pairs: &[(&'static str, &'static str)]| {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, HeaderValue::from_static(v));
        }
        m
    };
    assert_eq!(retry_after(&h(&[("retry-after", "7")])), Some(7));
    assert_eq!(retry_after(&h(&[("retry-after-ms", "1500")])), Some(2));
    assert_eq!(
        retry_after(&h(&[
            ("x-ratelimit-reset-requests", "1m3s"),
            ("x-ratelimit-reset-tokens", "20ms")
        ])),
        Some(63)
    );
    assert_eq!(
        retry_after(&h(&[("x-ratelimit-reset-tokens", "soon")])),
        None
    );
    assert_eq!(retry_after(&h(&[])), None);
}
