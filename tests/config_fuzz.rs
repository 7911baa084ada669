//! Property tests: no input to the config loader panics. Arbitrary text exercises the YAML
//! parser; arbitrary documents built from the real key vocabulary reach deep into validation.

use awsnycast::config::{Document, Vars};
use proptest::prelude::*;

fn load(text: &str) {
    let mut vars = Vars::default();
    vars.identity.insert("az".into(), "eu-west-1a".into());
    if let Ok(doc) = Document::parse(text, "fuzz.yaml") {
        let _ = doc.uses_identity();
        if let Ok(loaded) = doc.build(&vars) {
            let _ = loaded.config.summary();
        }
    }
}

/// The real key vocabulary, plus names used as health check and route table names.
fn keys() -> Vec<&'static str> {
    let mut k = awsnycast::config::vocabulary();
    k.extend(["public", "a", "b"]);
    k
}

const SCALARS: &[&str] = &[
    "ping",
    "tcp",
    "http",
    "https",
    "command",
    "by_tag",
    "by_tag_regexp",
    "and",
    "or",
    "main",
    "subnet",
    "has_route_to",
    "SELF",
    "i-0123456789abcdef0",
    "0.0.0.0/0",
    "10.0.0.1/24",
    "192.168.1.1",
    "::1",
    "300",
    "0",
    "-1",
    "99999999999999999999999",
    "500ms",
    "1e400",
    "true",
    "false",
    "null",
    "~",
    "2xx",
    "'{{ az }}'",
    "'${HOME}'",
    "'${'",
    "'(['",
    "public",
    "''",
    "'%DESTINATION%'",
    ".nan",
    "-.inf",
    "0x1F",
    "1_000",
];

#[derive(Debug, Clone)]
enum Tree {
    Scalar(String),
    List(Vec<Tree>),
    Map(Vec<(String, Tree)>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = prop_oneof![
        proptest::sample::select(SCALARS).prop_map(|s| Tree::Scalar(s.to_string())),
        "[a-z0-9./:]{0,12}".prop_map(Tree::Scalar),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Tree::List),
            prop::collection::vec(
                (proptest::sample::select(keys()).prop_map(str::to_string), inner),
                0..6
            )
            .prop_map(Tree::Map),
        ]
    })
}

/// Renders a tree as flow-style YAML.
fn render(t: &Tree) -> String {
    match t {
        Tree::Scalar(s) if s.is_empty() => "''".into(),
        Tree::Scalar(s) => s.clone(),
        Tree::List(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        Tree::Map(entries) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", render(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        load(&text);
    }

    #[test]
    fn arbitrary_yaml_like_text_never_panics(text in "[-:{}\\[\\],&*!|>'\"#%@ \\na-z0-9]{0,300}") {
        load(&text);
    }

    #[test]
    fn arbitrary_documents_never_panic(t in tree()) {
        load(&render(&t));
    }

    #[test]
    fn arbitrary_configs_never_panic(
        hc in tree(), route in tree(), find in tree(),
    ) {
        let doc = format!(
            "{{healthchecks: {{public: {}}}, routetables: {{a: {{find: {}, manage_routes: [{}]}}}}}}",
            render(&hc), render(&find), render(&route)
        );
        load(&doc);
    }
}

#[test]
fn alias_bombs_are_refused_not_expanded() {
    // Billion laughs: the parser's budget must stop it quickly.
    let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    let mut prev = 'a';
    for name in 'b'..='k' {
        doc.push_str(&format!("{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        prev = name;
    }
    let start = std::time::Instant::now();
    let result = Document::parse(&doc, "bomb.yaml");
    assert!(result.is_err(), "an alias bomb should be rejected");
    assert!(start.elapsed().as_secs() < 10);
}
