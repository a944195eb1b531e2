//! Unit tests of the parent module.
use serde_json::json;

use super::*;

fn def(name: &str, kind: VarKind) -> VariableDef {
    VariableDef {
        name: name.to_owned(),
        kind,
        default: None,
        required: false,
        description: String::new(),
    }
}

fn lang() -> VariableDef {
    def(
        "lang",
        VarKind::Enum {
            choices: vec!["rust".into(), "go".into()],
        },
    )
}

fn vals(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn ok(text: &str, defs: &[VariableDef], values: Value) -> String {
    render(text, defs, &vals(values)).unwrap()
}

fn err(text: &str, defs: &[VariableDef], values: Value) -> String {
    let e = render(text, defs, &vals(values)).unwrap_err();
    assert_eq!(e.field(), Some("variables"));
    e.to_string()
}

fn invalid_msg(d: &VariableDef) -> String {
    let e = d.validate().unwrap_err();
    assert_eq!(e.field(), Some("variables"));
    e.to_string()
}

#[test]
fn rendering_stops_at_the_size_cap() {
    let defs = vec![VariableDef {
        name: "a".into(),
        kind: VarKind::Text,
        default: None,
        required: true,
        description: String::new(),
    }];
    let mut values = Map::new();
    values.insert("a".into(), Value::String("x".repeat(4096)));
    let text = "{{a}}".repeat(50_000);
    let err = render(&text, &defs, &values).expect_err("capped");
    assert!(err.to_string().contains("larger than 8 MiB"), "{err}");
    let nul = VariableDef {
        default: Some(Value::String("a\u{0}b".into())),
        ..defs[0].clone()
    };
    assert!(nul.validate().is_err());
}

#[test]
fn json_shape_is_flat_and_round_trips() {
    let raw = r#"{"name":"lang","type":"enum","choices":["rust","go"],"default":"rust","required":true,"description":"d"}"#;
    let d: VariableDef = serde_json::from_str(raw).unwrap();
    assert_eq!(d.kind, lang().kind);
    assert_eq!(d.default, Some(json!("rust")));
    assert!(d.required);
    let back: Value = serde_json::to_value(&d).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(raw).unwrap());

    let minimal: VariableDef = serde_json::from_str(r#"{"name":"n","type":"number"}"#).unwrap();
    assert_eq!(minimal, def("n", VarKind::Number));
    assert!(serde_json::from_str::<VariableDef>(r#"{"name":"n","type":"date"}"#).is_err());
}

#[test]
fn substitutes_with_and_without_spaces() {
    let defs = [def("name", VarKind::String), def("x_1", VarKind::String)];
    let v = json!({"name": "Ada", "x_1": "!"});
    assert_eq!(ok("Hi {{name}}{{x_1}}", &defs, v.clone()), "Hi Ada!");
    assert_eq!(
        ok("Hi {{ name }} {{\tx_1  }}", &defs, v.clone()),
        "Hi Ada !"
    );
    assert_eq!(ok("{{name}}{{name}}{{name}}", &defs, v), "AdaAdaAda");
}

#[test]
fn unicode_and_emoji_around_placeholders() {
    let defs = [def("who", VarKind::String)];
    let v = json!({"who": "世界🌍"});
    assert_eq!(ok("héllo {{who}}🎉ü", &defs, v.clone()), "héllo 世界🌍🎉ü");
    assert_eq!(ok("🎉{{who}}", &defs, v.clone()), "🎉世界🌍");
    assert_eq!(ok("{{ wh\u{f6} }}", &defs, v), "{{ wh\u{f6} }}");
}

#[test]
fn escape_renders_literal_braces() {
    let defs = [def("name", VarKind::String)];
    let v = json!({"name": "Ada"});
    assert_eq!(ok(r"\{{name}}", &defs, v.clone()), "{{name}}");
    assert_eq!(
        ok(r"a \{{name}} b {{name}}", &defs, v.clone()),
        "a {{name}} b Ada"
    );
    assert_eq!(ok(r"\{{", &defs, v.clone()), "{{");
    assert_eq!(ok(r"\{ {{name}}\", &defs, v.clone()), r"\{ Ada\");
    assert!(used_variables(&[r"\{{name}}"]).is_empty());
}

#[test]
fn malformed_braces_stay_literal() {
    let defs = [def("a", VarKind::String)];
    let v = json!({"a": "A"});
    for text in [
        "{{ not valid! }}",
        "{{",
        "{{a",
        "{{a}",
        "{a}}",
        "{ {a}}",
        "}}{{",
        "{{1a}}",
        "{{}}",
        "{{ }}",
        "{{a b}}",
        "{{a\n}}",
    ] {
        assert_eq!(ok(text, &defs, v.clone()), text, "{text:?}");
    }
    assert_eq!(ok("{{{a}}}", &defs, v.clone()), "{A}");
    assert_eq!(ok("{{{{a}}", &defs, v.clone()), "{{A");
    assert_eq!(ok("{{ oops {{a}}", &defs, v), "{{ oops A");
    let long = format!("{{{{{}}}}}", "a".repeat(65));
    assert_eq!(ok(&long, &defs, json!({})), long);
    assert!(used_variables(&["{{ not valid! }} {{ ok }}"]) == ["ok"]);
}

#[test]
fn substituted_values_are_not_rescanned() {
    let defs = [def("a", VarKind::Text), def("b", VarKind::String)];
    let v = json!({"a": "{{b}} and \\{{b}}", "b": "B"});
    assert_eq!(ok("{{a}}|{{b}}", &defs, v), r"{{b}} and \{{b}}|B");
}

#[test]
fn string_and_text_accept_only_strings() {
    let defs = [def("s", VarKind::String), def("t", VarKind::Text)];
    assert_eq!(
        ok("{{s}}/{{t}}", &defs, json!({"s": "a\nb", "t": "c\nd"})),
        "a\nb/c\nd"
    );
    assert_eq!(ok("[{{s}}]", &defs, json!({"s": ""})), "[]");
    assert_eq!(
        err("{{s}}", &defs, json!({"s": 5})),
        "variable `s` must be a string, got 5"
    );
    assert_eq!(
        err("{{t}}", &defs, json!({"t": [1]})),
        "variable `t` must be text, got [1]"
    );
}

#[test]
fn numbers_accept_json_numbers_and_numeric_strings() {
    let defs = [def("n", VarKind::Number)];
    let r = |v: Value| render("{{n}}", &defs, &vals(json!({ "n": v })));
    assert_eq!(r(json!(3)).unwrap(), "3");
    assert_eq!(r(json!(2.5)).unwrap(), "2.5");
    assert_eq!(r(json!(-7)).unwrap(), "-7");
    assert_eq!(r(json!(" 42 ")).unwrap(), "42");
    assert_eq!(r(json!("1e3")).unwrap(), "1e3");
    for bad in ["abc", "inf", "NaN", "1e999", "3 apples"] {
        assert!(r(json!(bad)).is_err(), "{bad}");
    }
    assert!(r(json!(true)).is_err());
    assert_eq!(
        err("{{n}}", &defs, json!({"n": "abc"})),
        r#"variable `n` must be a number, got "abc""#
    );
}

#[test]
fn booleans_accept_json_and_form_spellings() {
    let defs = [def("b", VarKind::Boolean)];
    let r = |v: Value| render("{{b}}", &defs, &vals(json!({ "b": v })));
    for (given, want) in [
        (json!(true), "true"),
        (json!(false), "false"),
        (json!("true"), "true"),
        (json!("off"), "false"),
        (json!("on"), "true"),
        (json!("1"), "true"),
        (json!("0"), "false"),
        (json!("FALSE"), "false"),
    ] {
        assert_eq!(r(given.clone()).unwrap(), want, "{given}");
    }
    assert!(r(json!(1)).is_err());
    assert_eq!(
        err("{{b}}", &defs, json!({"b": "yes"})),
        r#"variable `b` must be true or false, got "yes""#
    );
}

#[test]
fn enums_accept_only_their_choices() {
    let defs = [lang()];
    assert_eq!(ok("{{lang}}", &defs, json!({"lang": "go"})), "go");
    assert_eq!(
        err("{{lang}}", &defs, json!({"lang": "cobol"})),
        r#"variable `lang` must be one of `rust`, `go`, got "cobol""#
    );
    assert!(render("{{lang}}", &defs, &vals(json!({"lang": "Rust"}))).is_err());
    assert!(render("{{lang}}", &defs, &vals(json!({"lang": 1}))).is_err());
}

#[test]
fn long_bad_values_are_clipped_in_messages() {
    let defs = [def("n", VarKind::Number)];
    let msg = err("{{n}}", &defs, json!({"n": "x".repeat(1000)}));
    let shown = msg.trim_start_matches("variable `n` must be a number, got ");
    assert_eq!(shown.chars().count(), 40);
    assert!(shown.ends_with('…'));
}

#[test]
fn defaults_required_and_missing_values() {
    let mut lang = lang();
    lang.default = Some(json!("rust"));
    let mut n = def("n", VarKind::Number);
    n.default = Some(json!(3));
    let mut req = def("req", VarKind::String);
    req.required = true;
    let opt = def("opt", VarKind::Boolean);
    let defs = [lang, n, req, opt];

    let text = "{{lang}} {{n}} {{req}} [{{opt}}]";
    assert_eq!(ok(text, &defs, json!({"req": "r"})), "rust 3 r []");
    assert_eq!(
        ok(
            text,
            &defs,
            json!({"req": "r", "lang": null, "n": "", "opt": " "})
        ),
        "rust 3 r []"
    );
    assert_eq!(
        ok(
            text,
            &defs,
            json!({"req": "r", "lang": "go", "n": 4.5, "opt": "on"})
        ),
        "go 4.5 r [true]"
    );
    assert_eq!(err(text, &defs, json!({})), "variable `req` is required");
    assert_eq!(
        err(text, &defs, json!({"req": null})),
        "variable `req` is required"
    );
    // Declared but unused: no error even when required.
    assert_eq!(ok("plain", &defs, json!({"unused": [1]})), "plain");
}

#[test]
fn undeclared_placeholders_take_values_or_fail() {
    let defs = [def("a", VarKind::String)];
    assert_eq!(
        ok(
            "{{x}} {{y}} {{z}} {{a}}",
            &defs,
            json!({"x": "s", "y": 2, "z": false, "a": "A"})
        ),
        "s 2 false A"
    );
    assert_eq!(
        err("{{a}} {{x}}", &defs, json!({"a": "A"})),
        "variable `x` is used in the template but not declared; add it to the variables"
    );
    assert!(render("{{x}}", &defs, &vals(json!({"x": null}))).is_err());
    assert!(render("{{x}}", &defs, &vals(json!({"x": {"k": 1}}))).is_err());
}

#[test]
fn used_and_undeclared_keep_first_appearance_order() {
    let texts = ["{{ b }} {{a}} {{b}}", r"{{c}} \{{d}} {{a}} {{e}}"];
    assert_eq!(used_variables(&texts), ["b", "a", "c", "e"]);
    let defs = [def("a", VarKind::String), def("zzz", VarKind::Text)];
    assert_eq!(undeclared(&texts, &defs), ["b", "c", "e"]);
    assert!(undeclared(&["no placeholders"], &defs).is_empty());
}

#[test]
fn render_all_shares_values() {
    let defs = [def("a", VarKind::String)];
    let out = render_all(
        &["sys {{a}}", "user {{a}}"],
        &defs,
        &vals(json!({"a": "A"})),
    );
    assert_eq!(out.unwrap(), ["sys A", "user A"]);
    assert!(render_all(&["ok", "{{b}}"], &defs, &Map::new()).is_err());
}

#[test]
fn megabyte_template_renders() {
    let defs = [def("a", VarKind::String)];
    let chunk = "lorem {{a}} ipsum {{ {{{ \\{{a}} {{ not valid! }} ";
    let text = chunk.repeat(1 << 20 >> 5);
    assert!(text.len() >= 1 << 20);
    let out = ok(&text, &defs, json!({"a": "{{a}}"}));
    assert!(out.starts_with("lorem {{a}} ipsum {{ {{{ {{a}} {{ not valid! }} lorem"));
    let braces = "{".repeat(1 << 20);
    assert_eq!(ok(&braces, &defs, json!({})), braces);
    let spaces = format!("{{{{{}x", " ".repeat(1 << 20));
    assert_eq!(ok(&spaces, &defs, json!({})), spaces);
}

#[test]
fn validate_accepts_good_defs() {
    let mut l = lang();
    l.default = Some(json!("go"));
    l.description = "Which language\nto use".into();
    let mut n = def("_N9", VarKind::Number);
    n.default = Some(json!(1.5));
    let mut b = def("b", VarKind::Boolean);
    b.default = Some(Value::Null);
    let long = def(&"x".repeat(64), VarKind::Text);
    validate_defs(&[l, n, b, long]).unwrap();
    validate_defs(&[]).unwrap();
}

#[test]
fn validate_names_the_variable() {
    assert!(invalid_msg(&def("9a", VarKind::Text)).starts_with("variable `9a`: a name"));
    assert!(invalid_msg(&def("a-b", VarKind::Text)).starts_with("variable `a-b`"));
    assert!(invalid_msg(&def(&"x".repeat(65), VarKind::Text)).contains("at most 64"));
    assert_eq!(
        invalid_msg(&def("", VarKind::Text)),
        "a variable has no name"
    );

    let mut d = lang();
    d.default = Some(json!("cobol"));
    assert_eq!(
        invalid_msg(&d),
        "variable `lang`: the default `cobol` is not one of the choices"
    );
    let mut d = def("n", VarKind::Number);
    d.default = Some(json!("3"));
    assert_eq!(
        invalid_msg(&d),
        r#"variable `n`: the default must be a number, got "3""#
    );
    let mut d = def("b", VarKind::Boolean);
    d.default = Some(json!("true"));
    assert!(invalid_msg(&d).starts_with("variable `b`: the default must be true or false"));
    let mut d = def("s", VarKind::String);
    d.default = Some(json!(1));
    assert!(invalid_msg(&d).starts_with("variable `s`: the default must be a string"));

    let mut d = def("s", VarKind::String);
    d.description = "d".repeat(501);
    assert!(invalid_msg(&d).starts_with("variable `s`: the description is longer"));
}

#[test]
fn validate_checks_enum_choices() {
    let choices = |c: Vec<String>| def("e", VarKind::Enum { choices: c });
    let msg = |c: Vec<&str>| invalid_msg(&choices(c.into_iter().map(String::from).collect()));
    assert!(msg(vec![]).contains("at least one choice"));
    assert!(msg(vec!["a", ""]).contains("a choice is empty"));
    assert!(msg(vec!["a", "b", "a"]).contains("the choice `a` is listed twice"));
    assert!(msg(vec!["a\u{7}"]).contains("control characters"));
    assert!(msg(vec![&"c".repeat(101)]).contains("longer than 100"));
    let many: Vec<String> = (0..51).map(|i| format!("c{i}")).collect();
    assert!(invalid_msg(&choices(many)).contains("at most 50 choices"));
    let fifty: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    choices(fifty).validate().unwrap();
    choices(vec!["c".repeat(100)]).validate().unwrap();
}

#[test]
fn validate_defs_checks_duplicates_and_count() {
    let e = validate_defs(&[lang(), def("x", VarKind::Text), lang()]).unwrap_err();
    assert_eq!(e.to_string(), "variable `lang` is declared more than once");
    let many: Vec<VariableDef> = (0..51)
        .map(|i| def(&format!("v{i}"), VarKind::Text))
        .collect();
    assert!(
        validate_defs(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 50")
    );
    validate_defs(&many[..50]).unwrap();
    let e = validate_defs(&[lang(), def("bad name", VarKind::Text)]).unwrap_err();
    assert!(e.to_string().starts_with("variable `bad name`"));
}
