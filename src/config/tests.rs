//! Unit tests of the parent module.
use super::keys::collect_keys;
use super::*;

fn load_str(text: &str, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    let dir = tempfile::tempdir().map_err(|e| ConfigError::new("test", "", e.to_string()))?;
    let path = dir.path().join("p.toml");
    std::fs::write(&path, text).map_err(|e| ConfigError::new("test", "", e.to_string()))?;
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load(Some(&path), env, &Overrides::default())
}

#[test]
fn example_parses_and_documents_every_key() {
    let example: toml::Table = EXAMPLE.parse().expect("example is TOML");
    let mut documented = BTreeMap::new();
    collect_keys(&example, "", &mut documented);
    let known = known_keys();
    assert_eq!(
        documented.keys().collect::<Vec<_>>(),
        known.keys().collect::<Vec<_>>()
    );
    let loaded = load_str(EXAMPLE, &[]).expect("example loads");
    // The example is the defaults (apart from where the file was read from).
    let config = Config {
        config_dir: PathBuf::from("."),
        ..loaded.config
    };
    assert_eq!(config, Config::default());
    for key in known.keys().filter(|k| known[*k] != "table") {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let commented = EXAMPLE
            .lines()
            .collect::<Vec<_>>()
            .windows(2)
            .any(|w| w[0].trim_start().starts_with('#') && w[1].trim_start().starts_with(leaf));
        assert!(
            commented,
            "`{key}` has no comment above it in config.example.toml"
        );
    }
}

#[test]
fn unknown_key_is_named() {
    let err = load_str("[auth]\nregistraton = \"open\"\n", &[]).expect_err("typo accepted");
    assert_eq!(err.key, "auth.registraton");
    assert!(err.to_string().contains("auth.registraton"), "{err}");
    let err = load_str("lisen = \"x\"\n", &[]).expect_err("typo accepted");
    assert_eq!(err.key, "lisen");
}

#[test]
fn bad_value_names_the_key() {
    let err = load_str("[auth]\nregistration = \"opne\"\n", &[]).expect_err("bad enum");
    assert_eq!(err.key, "auth.registration");
    let err = load_str("[auth]\nsession_idle_minutes = \"x\"\n", &[]).expect_err("bad int");
    assert_eq!(err.key, "auth.session_idle_minutes");
    let err = load_str("listen = \"nowhere\"\n", &[]).expect_err("bad addr");
    assert_eq!(err.key, "listen");
}

#[test]
fn env_overrides_file_and_flags_override_env() {
    let loaded = load_str(
        "listen = \"127.0.0.1:1\"\n[auth]\nsession_idle_minutes = 5\n",
        &[
            ("PROMPTYARD_LISTEN", "127.0.0.1:2"),
            ("PROMPTYARD_AUTH__SESSION_IDLE_MINUTES", "7"),
            ("PROMPTYARD_AUTH__REGISTRATION", "open"),
            ("PROMPTYARD_HTTP__TRUST_FORWARDED_FOR", "true"),
            ("PROMPTYARD_NOPE", "1"),
            ("PROMPTYARD_TEST_POSTGRES_URL", "x"),
        ],
    )
    .expect("loads");
    assert_eq!(loaded.config.listen, "127.0.0.1:2");
    assert_eq!(loaded.config.auth.session_idle_minutes, 7);
    assert_eq!(loaded.config.auth.registration, Registration::Open);
    assert!(loaded.config.http.trust_forwarded_for);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("PROMPTYARD_NOPE"));

    let err = load_str("", &[("PROMPTYARD_AUTH__REGISTRATION", "bogus")]).expect_err("bad env");
    assert_eq!(err.origin, "PROMPTYARD_AUTH__REGISTRATION");
    assert_eq!(err.key, "auth.registration");

    let overrides = Overrides {
        listen: Some("127.0.0.1:3".into()),
        data_dir: Some("/tmp/x".into()),
    };
    let env = [("PROMPTYARD_LISTEN".to_owned(), "127.0.0.1:2".to_owned())];
    let loaded = Config::load(None, env, &overrides).expect("loads");
    assert_eq!(loaded.config.listen, "127.0.0.1:3");
    assert_eq!(loaded.config.data_dir, PathBuf::from("/tmp/x"));
}

#[test]
fn out_of_range_values_name_the_key() {
    for (text, key) in [
        (
            "[auth]\nsession_absolute_hours = 100000000\n",
            "auth.session_absolute_hours",
        ),
        (
            "[auth]\nsession_idle_minutes = 0\n",
            "auth.session_idle_minutes",
        ),
        (
            "[http]\nbody_limit_kib = 18014398509481984\n",
            "http.body_limit_kib",
        ),
        (
            "[auth]\nmax_concurrent_hashes = 1000\n",
            "auth.max_concurrent_hashes",
        ),
    ] {
        let err = load_str(text, &[]).expect_err(text);
        assert_eq!(err.key, key, "{text}");
        assert!(err.message.contains("between 1 and"), "{err}");
    }
}

#[test]
fn outbound_lists_come_from_env_and_are_checked() {
    let loaded = load_str(
        "",
        &[
            ("PROMPTYARD_OUTBOUND__ALLOW_CIDRS", "10.0.0.0/8, 127.0.0.1"),
            ("PROMPTYARD_OUTBOUND__ALLOW_PORTS", "443,11434"),
        ],
    )
    .expect("loads");
    assert_eq!(
        loaded.config.outbound.allow_cidrs,
        vec!["10.0.0.0/8", "127.0.0.1"]
    );
    assert_eq!(loaded.config.outbound.allow_ports, vec![443, 11434]);
    let err = load_str("[outbound]\nallow_cidrs = [\"10.0.0.0/33\"]\n", &[]).expect_err("bad cidr");
    assert_eq!(err.key, "outbound.allow_cidrs");
    let err = load_str("[outbound]\nallow_hosts = [\"a b\"]\n", &[]).expect_err("bad host");
    assert_eq!(err.key, "outbound.allow_hosts");
}

#[test]
fn price_overrides_parse_and_bad_ones_are_named() {
    let loaded = load_str(
        "[pricing]\noverrides = [\"my-model = 1.5, 6\", \"llama* = 0, 0, 128000\"]\n",
        &[],
    )
    .expect("loads");
    let parsed = loaded.config.pricing.parsed().unwrap();
    assert_eq!(parsed[0].model, "my-model");
    assert_eq!(parsed[1].context_window, Some(128_000));
    let err = load_str("[pricing]\noverrides = [\"oops\"]\n", &[]).expect_err("bad");
    assert_eq!(err.key, "pricing.overrides");
    let err = load_str("[pricing]\noverrides = [\"m = -1, 2\"]\n", &[]).expect_err("negative");
    assert_eq!(err.key, "pricing.overrides");
}

#[test]
fn secrets_are_redacted() {
    let mut c = Config::default();
    c.storage.url = "postgres://app:hunter2@db:5432/promptyard".into();
    let printed = c.to_redacted_toml();
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("***"), "{printed}");
    let mut c = Config::default();
    c.secrets.master_key = "c2VjcmV0".into();
    assert!(!c.to_redacted_toml().contains("c2VjcmV0"));
}

const OIDC: &str = r#"
[[oidc.providers]]
id = "corp"
label = "Corp SSO"
issuer = "https://sso.corp.example/realms/main"
client_id = "promptyard"
client_secret = "very-secret-value"
"#;

#[test]
fn oidc_providers_are_checked_and_their_secrets_redacted() {
    let c = load_str(OIDC, &[]).expect("loads").config;
    let p = &c.oidc.providers[0];
    assert_eq!(p.display_label(), "Corp SSO");
    assert_eq!(p.effective_scopes(), ["openid", "email", "profile"]);
    let printed = c.to_redacted_toml();
    assert!(!printed.contains("very-secret-value"), "{printed}");
    assert!(printed.contains("client_secret = \"***\""), "{printed}");

    // Google needs only the client: the preset fills in the issuer and the label.
    let google = load_str(
        "[[oidc.providers]]\nid = \"google\"\npreset = \"google\"\nclient_id = \"x\"\nclient_secret = \"y\"\n",
        &[],
    )
    .expect("loads")
    .config;
    let g = &google.oidc.providers[0];
    assert_eq!(g.issuer_url(), "https://accounts.google.com");
    assert_eq!(g.display_label(), "Google");

    for (text, key, says) in [
        (
            OIDC.replace("id = \"corp\"", "id = \"Corp SSO\""),
            "oidc.providers[0].id",
            "lower-case",
        ),
        (
            OIDC.replace(
                "issuer = \"https://sso.corp.example/realms/main\"",
                "issuer = \"sso.corp\"",
            ),
            "oidc.providers[0].issuer",
            "issuer URL",
        ),
        (
            OIDC.replace("client_id = \"promptyard\"", "client_id = \"\""),
            "oidc.providers[0].client_id",
            "must be set",
        ),
        (
            format!("{OIDC}client_secret_file = \"/run/secret\"\n"),
            "oidc.providers[0].client_secret",
            "exactly one",
        ),
        (
            format!("{OIDC}preset = \"okta\"\n"),
            "oidc.providers[0].preset",
            "unknown preset",
        ),
        (
            format!("{OIDC}admin_claim = \"groups\"\n"),
            "oidc.providers[0].admin_values",
            "list the values",
        ),
        (
            format!("{OIDC}{OIDC}"),
            "oidc.providers[1].id",
            "used by two providers",
        ),
        (
            format!("{OIDC}surprise = 1\n"),
            "oidc.providers",
            "unknown field",
        ),
        (
            "[auth]\npassword_login = false\n".to_owned(),
            "auth.password_login",
            "oidc.providers",
        ),
    ] {
        let err = load_str(&text, &[]).expect_err(key);
        assert!(err.key.starts_with(key), "{key}: {err}");
        assert!(err.to_string().contains(says), "{key}: {err}");
    }
    // With a provider, password login may be turned off.
    let text = format!("[auth]\npassword_login = false\n{OIDC}");
    assert!(
        !load_str(&text, &[])
            .expect("loads")
            .config
            .auth
            .password_login
    );
}
