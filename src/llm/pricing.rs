//! Model prices: the embedded list-price table (`prices.toml`) plus operator overrides.
//!
//! A lookup takes the connection's provider kind and the model id and answers
//! [`PriceLookup::Known`], [`PriceLookup::Free`] (models on an `openai-compatible` connection,
//! i.e. local servers, unless an override prices them) or [`PriceLookup::Unknown`] (shown as
//! "price unknown", never as 0). Order:
//!
//! 1. overrides by model id (exact, then the id with version suffixes stripped), then `prefix*`
//!    overrides (longest prefix first); an override applies whatever the provider kind;
//! 2. `openai-compatible`: free;
//! 3. the embedded table: exact id or alias, then the id with version suffixes stripped one at a
//!    time (`gpt-4o-2024-08-06` -> `gpt-4o`, `claude-3-5-sonnet@20240620` -> `claude-3-5-sonnet`,
//!    `gemini-1.5-pro-002` -> `gemini-1.5-pro`); for the kinds `openai`, `anthropic` and `google`
//!    only that provider's models match;
//! 4. unknown.
//!
//! Ids compare case-insensitively, and a routing prefix (`openai/gpt-4o`, `models/gemini-2.0-flash`)
//! is dropped. Fine-tuned ids (`ft:...`) are not priced as their base model (they cost more).
//!
//! Money: prices are USD per million tokens, so one dollar per million tokens is exactly one
//! micro-dollar per token; [`cost_micro_usd`] gives the integer micro-dollars that run records and
//! budgets can sum without drift, and [`cost_usd`] the same cost as dollars.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;

/// The embedded table (list prices; see the comment at its top).
const EMBEDDED_TOML: &str = include_str!("prices.toml");

/// Provider kind of local and self-hosted OpenAI-style servers: free unless overridden.
pub const LOCAL_KIND: &str = "openai-compatible";

/// What a model costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// USD per million input (prompt) tokens.
    pub input_per_mtok: f64,
    /// USD per million output (completion) tokens.
    pub output_per_mtok: f64,
    /// The model's context window in tokens, when known.
    pub context_window: Option<u32>,
}

impl Price {
    /// Both prices are finite and not negative (config validation should reject the others).
    pub fn is_valid(&self) -> bool {
        [self.input_per_mtok, self.output_per_mtok]
            .iter()
            .all(|p| p.is_finite() && *p >= 0.0)
    }
}

/// The answer of [`PriceTable::lookup`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PriceLookup {
    /// Priced by an override or the embedded table.
    Known(Price),
    /// A local model (provider kind `openai-compatible`) without an override: costs 0.
    Free,
    /// Not in any table: show "price unknown", never 0.
    Unknown,
}

impl PriceLookup {
    /// The cost in USD, `Some(0.0)` when free, `None` when the price is unknown.
    pub fn cost_usd(&self, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        match self {
            PriceLookup::Known(p) => Some(cost_usd(p, input_tokens, output_tokens)),
            PriceLookup::Free => Some(0.0),
            PriceLookup::Unknown => None,
        }
    }

    /// The cost in integer micro-dollars (see [`cost_micro_usd`]), `None` when unknown.
    pub fn cost_micro_usd(&self, input_tokens: u64, output_tokens: u64) -> Option<u64> {
        match self {
            PriceLookup::Known(p) => Some(cost_micro_usd(p, input_tokens, output_tokens)),
            PriceLookup::Free => Some(0),
            PriceLookup::Unknown => None,
        }
    }

    /// The context window, when the model is priced and its window known.
    pub fn context_window(&self) -> Option<u32> {
        match self {
            PriceLookup::Known(p) => p.context_window,
            PriceLookup::Free | PriceLookup::Unknown => None,
        }
    }
}

/// The cost in USD of a call with these token counts.
pub fn cost_usd(price: &Price, input_tokens: u64, output_tokens: u64) -> f64 {
    micro_usd(price, input_tokens, output_tokens) / 1_000_000.0
}

/// The cost in micro-dollars (millionths of a USD), rounded to the nearest one. Because prices
/// are per million tokens, `tokens * usd_per_mtok` already is micro-dollars.
pub fn cost_micro_usd(price: &Price, input_tokens: u64, output_tokens: u64) -> u64 {
    let micro = micro_usd(price, input_tokens, output_tokens).round();
    if micro.is_finite() && micro > 0.0 {
        // Saturating float-to-int conversion; costs are far below u64::MAX.
        micro as u64
    } else {
        0
    }
}

fn micro_usd(price: &Price, input_tokens: u64, output_tokens: u64) -> f64 {
    input_tokens as f64 * price.input_per_mtok + output_tokens as f64 * price.output_per_mtok
}

/// One row of `prices.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelRow {
    id: String,
    provider: String,
    input_per_mtok: f64,
    output_per_mtok: f64,
    context_window: Option<u32>,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    model: Vec<ModelRow>,
}

#[derive(Clone, Debug)]
struct Entry {
    /// The table's id for the model (aliases point at the same entry).
    id: String,
    provider: String,
    price: Price,
}

fn parse_table(text: &str) -> Result<HashMap<String, Entry>, toml::de::Error> {
    let file: PriceFile = toml::from_str(text)?;
    let mut map = HashMap::new();
    for row in file.model {
        let entry = Entry {
            id: row.id.to_ascii_lowercase(),
            provider: row.provider.to_ascii_lowercase(),
            price: Price {
                input_per_mtok: row.input_per_mtok,
                output_per_mtok: row.output_per_mtok,
                context_window: row.context_window,
            },
        };
        for alias in row.aliases {
            map.insert(alias.to_ascii_lowercase(), entry.clone());
        }
        map.insert(entry.id.clone(), entry);
    }
    Ok(map)
}

static EMBEDDED: LazyLock<HashMap<String, Entry>> = LazyLock::new(|| {
    parse_table(EMBEDDED_TOML).unwrap_or_else(|e| {
        // Unreachable in a tested build: the unit tests parse the same file.
        tracing::error!(error = %e, "embedded price table does not parse; every model is price unknown");
        HashMap::new()
    })
});

/// The embedded list prices plus operator overrides. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    /// Exact overrides by lowercased model id.
    overrides: HashMap<String, Price>,
    /// `prefix*` overrides, longest prefix first.
    prefix_overrides: Vec<(String, Price)>,
}

impl PriceTable {
    /// The embedded list prices alone.
    pub fn embedded() -> Self {
        Self::default()
    }

    /// The embedded list prices with `overrides` on top: each is `(model id, price)`, where the id
    /// may end in `*` to price every model starting with the rest. An override that gives no
    /// context window keeps the embedded one. Later entries replace earlier ones for the same id.
    pub fn with_overrides(overrides: &[(String, Price)]) -> Self {
        let mut table = Self::default();
        for (id, price) in overrides {
            let id = id.trim().to_ascii_lowercase();
            match id.strip_suffix('*') {
                Some(prefix) => {
                    table.prefix_overrides.retain(|(p, _)| p != prefix);
                    table.prefix_overrides.push((prefix.to_string(), *price));
                }
                None => {
                    table.overrides.insert(id, *price);
                }
            }
        }
        table
            .prefix_overrides
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        table
    }

    /// The price of `model` on a connection of `provider_kind` (`openai`, `anthropic`, `google`,
    /// `openai-compatible`); see the module documentation for the order of the rules.
    pub fn lookup(&self, provider_kind: &str, model: &str) -> PriceLookup {
        let names = candidate_names(model);
        let kind = provider_kind.trim().to_ascii_lowercase();
        let kind = if kind == "gemini" {
            "google".to_string()
        } else {
            kind
        };

        let over = names
            .iter()
            .find_map(|n| self.overrides.get(n.as_str()))
            .or_else(|| {
                let full = names.first().map(String::as_str).unwrap_or_default();
                self.prefix_overrides
                    .iter()
                    .find(|(prefix, _)| full.starts_with(prefix.as_str()))
                    .map(|(_, p)| p)
            });
        if let Some(price) = over {
            let mut price = *price;
            if price.context_window.is_none() {
                price.context_window =
                    embedded_entry(&names, None).and_then(|e| e.price.context_window);
            }
            return PriceLookup::Known(price);
        }
        if kind == LOCAL_KIND {
            return PriceLookup::Free;
        }
        let provider =
            matches!(kind.as_str(), "openai" | "anthropic" | "google").then_some(kind.as_str());
        match embedded_entry(&names, provider) {
            Some(entry) => PriceLookup::Known(entry.price),
            None => PriceLookup::Unknown,
        }
    }

    /// Every model of the embedded table as `(id, provider, price)`, sorted by provider and id
    /// (aliases left out), for pickers and the admin price page.
    pub fn embedded_models() -> Vec<(String, String, Price)> {
        let mut models: Vec<_> = EMBEDDED
            .iter()
            .filter(|(key, e)| **key == e.id)
            .map(|(_, e)| (e.id.clone(), e.provider.clone(), e.price))
            .collect();
        models.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        models
    }
}

fn embedded_entry(names: &[String], provider: Option<&str>) -> Option<&'static Entry> {
    names
        .iter()
        .filter_map(|n| EMBEDDED.get(n.as_str()))
        .find(|e| provider.is_none_or(|p| e.provider == p))
}

/// The names to try for `model`, most specific first: the lowercased id without a routing
/// prefix, then with one version suffix stripped at a time.
fn candidate_names(model: &str) -> Vec<String> {
    let lower = model.trim().to_ascii_lowercase();
    let mut name = lower.as_str();
    if !name.starts_with("ft:")
        && let Some((_, rest)) = name.rsplit_once('/')
    {
        name = rest;
    }
    let mut names = vec![name.to_string()];
    while let Some(shorter) = strip_version(name) {
        if shorter.is_empty() {
            break;
        }
        names.push(shorter.to_string());
        name = shorter;
    }
    names
}

/// `name` without its last version suffix, if it has one.
fn strip_version(name: &str) -> Option<&str> {
    for tag in ["-latest", ":latest", "-preview", "-exp"] {
        if let Some(rest) = name.strip_suffix(tag) {
            return Some(rest);
        }
    }
    let b = name.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    // Matches `b` ending in `shape`, where `d` is a digit and anything else is itself.
    let ends_like = |shape: &[u8]| {
        b.len() > shape.len()
            && b[b.len() - shape.len()..].iter().zip(shape).all(|(c, s)| {
                if *s == b'd' {
                    c.is_ascii_digit()
                } else {
                    c == s
                }
            })
    };
    // -YYYY-MM-DD, then -MM-DD (every byte cut here is an ASCII '-', so a char boundary)
    for shape in [&b"-dddd-dd-dd"[..], &b"-dd-dd"[..]] {
        if ends_like(shape) {
            return Some(&name[..name.len() - shape.len()]);
        }
    }
    // -NNN (Gemini), -MMDD (OpenAI), -YYYYMMDD / @YYYYMMDD (Anthropic, Vertex)
    let cut = name.rfind(['-', '@'])?;
    let tail = &b[cut + 1..];
    if [3, 4, 8].contains(&tail.len()) && digits(tail) {
        return Some(&name[..cut]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(l: PriceLookup) -> Price {
        match l {
            PriceLookup::Known(p) => p,
            other => panic!("expected a known price, got {other:?}"),
        }
    }

    #[test]
    fn embedded_table_parses_and_covers_the_common_models() {
        let map = parse_table(EMBEDDED_TOML).unwrap();
        for id in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "gpt-5",
            "o3",
            "o4-mini",
            "gpt-3.5-turbo",
            "claude-3-5-sonnet",
            "claude-3-7-sonnet",
            "claude-3-5-haiku",
            "claude-sonnet-4",
            "claude-opus-4",
            "gemini-1.5-pro",
            "gemini-1.5-flash",
            "gemini-2.0-flash",
            "gemini-2.5-pro",
            "gemini-2.5-flash",
        ] {
            let e = map.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(
                e.price.is_valid() && e.price.context_window.is_some(),
                "{id}"
            );
        }
        // Ids and aliases are unique: the map holds one key per id and alias.
        let file: PriceFile = toml::from_str(EMBEDDED_TOML).unwrap();
        let keys: usize = file.model.iter().map(|m| 1 + m.aliases.len()).sum();
        assert_eq!(keys, map.len(), "duplicate id or alias in prices.toml");
        assert_eq!(PriceTable::embedded_models().len(), file.model.len());
    }

    #[test]
    fn lookup_by_exact_id() {
        let t = PriceTable::embedded();
        let p = known(t.lookup("openai", "gpt-4o"));
        assert_eq!(
            (p.input_per_mtok, p.output_per_mtok, p.context_window),
            (2.5, 10.0, Some(128_000))
        );
        assert_eq!(
            known(t.lookup("anthropic", "claude-sonnet-4")).output_per_mtok,
            15.0
        );
        assert_eq!(
            known(t.lookup("google", "gemini-2.5-flash")).input_per_mtok,
            0.30
        );
        assert_eq!(
            known(t.lookup("openai", "GPT-4o-Mini")).input_per_mtok,
            0.15
        );
        // Alias and routing prefix.
        assert_eq!(
            known(t.lookup("anthropic", "anthropic/claude-3.5-sonnet")).input_per_mtok,
            3.0
        );
        assert_eq!(
            known(t.lookup("google", "models/gemini-1.5-pro")).output_per_mtok,
            5.0
        );
    }

    #[test]
    fn lookup_dated_variants() {
        let t = PriceTable::embedded();
        for (kind, model, family) in [
            ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
            ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("openai", "gpt-4.1-2025-04-14", "gpt-4.1"),
            ("openai", "o3-mini-2025-01-31", "o3-mini"),
            ("openai", "gpt-4-0613", "gpt-4"),
            ("openai", "gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
            ("openai", "gpt-4-turbo-2024-04-09", "gpt-4-turbo"),
            ("openai", "gpt-4-1106-preview", "gpt-4-turbo"),
            (
                "anthropic",
                "claude-3-5-sonnet-20241022",
                "claude-3-5-sonnet",
            ),
            ("anthropic", "claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
            ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("anthropic", "claude-opus-4-1-20250805", "claude-opus-4-1"),
            ("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku"),
            (
                "anthropic",
                "claude-3-5-sonnet@20240620",
                "claude-3-5-sonnet",
            ),
            ("google", "gemini-1.5-pro-002", "gemini-1.5-pro"),
            ("google", "gemini-1.5-flash-latest", "gemini-1.5-flash"),
            (
                "google",
                "gemini-2.5-flash-preview-05-20",
                "gemini-2.5-flash",
            ),
            ("google", "gemini-2.0-flash-001", "gemini-2.0-flash"),
        ] {
            assert_eq!(t.lookup(kind, model), t.lookup(kind, family), "{model}");
            assert!(
                matches!(t.lookup(kind, model), PriceLookup::Known(_)),
                "{model}"
            );
        }
        // A dated id with its own row keeps its own price.
        assert_eq!(
            known(t.lookup("openai", "gpt-4o-2024-05-13")).input_per_mtok,
            5.0
        );
        // Stripping never turns one model into a different one.
        assert_eq!(
            known(t.lookup("google", "gemini-2.5-flash-lite")).input_per_mtok,
            0.10
        );
        assert_eq!(
            known(t.lookup("google", "gemini-1.5-flash-8b")).input_per_mtok,
            0.0375
        );
        assert_eq!(known(t.lookup("openai", "gpt-4-32k")).input_per_mtok, 60.0);
    }

    #[test]
    fn override_beats_embedded_and_extends_it() {
        let cheap = Price {
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            context_window: None,
        };
        let internal = Price {
            input_per_mtok: 0.01,
            output_per_mtok: 0.02,
            context_window: Some(8192),
        };
        let t = PriceTable::with_overrides(&[
            ("GPT-4o".to_string(), cheap),
            ("llama3*".to_string(), internal),
            ("brand-new-model".to_string(), cheap),
        ]);
        let p = known(t.lookup("openai", "gpt-4o"));
        assert_eq!((p.input_per_mtok, p.output_per_mtok), (1.0, 2.0));
        assert_eq!(
            p.context_window,
            Some(128_000),
            "keeps the embedded context window"
        );
        // The override covers dated variants too, but not a different model.
        assert_eq!(
            known(t.lookup("openai", "gpt-4o-2024-11-20")).input_per_mtok,
            1.0
        );
        assert_eq!(
            known(t.lookup("openai", "gpt-4o-mini")).input_per_mtok,
            0.15
        );
        // Extends the table, whatever the provider kind, including local servers.
        assert_eq!(
            known(t.lookup("openai", "brand-new-model")).input_per_mtok,
            1.0
        );
        assert_eq!(known(t.lookup(LOCAL_KIND, "llama3.1:8b")), internal);
        assert_eq!(t.lookup(LOCAL_KIND, "qwen2.5:7b"), PriceLookup::Free);
    }

    #[test]
    fn local_models_are_free() {
        let t = PriceTable::embedded();
        assert_eq!(
            t.lookup("openai-compatible", "llama3.1:8b"),
            PriceLookup::Free
        );
        // Even when a local server calls its model by a hosted model's name.
        assert_eq!(t.lookup("openai-compatible", "gpt-4o"), PriceLookup::Free);
        assert_eq!(
            t.lookup("openai-compatible", "x").cost_usd(1000, 1000),
            Some(0.0)
        );
    }

    #[test]
    fn unknown_models() {
        let t = PriceTable::embedded();
        assert_eq!(t.lookup("openai", "gpt-99-turbo"), PriceLookup::Unknown);
        assert_eq!(t.lookup("openai", ""), PriceLookup::Unknown);
        assert_eq!(
            t.lookup("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123"),
            PriceLookup::Unknown
        );
        // A known model on another provider's connection is not priced by guess.
        assert_eq!(t.lookup("anthropic", "gpt-4o"), PriceLookup::Unknown);
        assert_eq!(t.lookup("openai", "mystery").cost_usd(10, 10), None);
        assert_eq!(t.lookup("openai", "mystery").context_window(), None);
        // Odd ids never panic.
        for odd in [
            "模型-2024-01-01",
            "é-1234",
            "ü@20240101",
            "-",
            "@",
            "/",
            "ft:",
            "-2024-01-01",
        ] {
            let _ = t.lookup("google", odd);
        }
    }

    #[test]
    fn costs() {
        let p = Price {
            input_per_mtok: 2.5,
            output_per_mtok: 10.0,
            context_window: None,
        };
        assert!((cost_usd(&p, 1_000_000, 0) - 2.5).abs() < 1e-12);
        assert!((cost_usd(&p, 1000, 500) - 0.0075).abs() < 1e-12);
        assert_eq!(cost_micro_usd(&p, 1000, 500), 7500);
        assert_eq!(cost_usd(&p, 0, 0), 0.0);
        let tiny = Price {
            input_per_mtok: 0.0375,
            output_per_mtok: 0.15,
            context_window: None,
        };
        assert_eq!(cost_micro_usd(&tiny, 100, 10), 5); // 3.75 + 1.5 = 5.25
        assert_eq!(PriceLookup::Known(p).cost_micro_usd(2, 1), Some(15));
        assert!(
            !Price {
                input_per_mtok: -1.0,
                output_per_mtok: 0.0,
                context_window: None
            }
            .is_valid()
        );
        assert!(
            !Price {
                input_per_mtok: f64::NAN,
                output_per_mtok: 0.0,
                context_window: None
            }
            .is_valid()
        );
    }
}
