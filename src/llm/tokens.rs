//! Exact BPE token counts for OpenAI's `o200k_base` and `cl100k_base` encodings.
//!
//! Counts are identical to OpenAI's tiktoken (`encode_ordinary(text).len()`): the text is counted
//! as ordinary text, so a special-token string such as `<|endoftext|>` typed by a user counts as
//! the tokens of its characters, never as one special token. The backend is `bpe-openai`
//! (GitHub's linear-time BPE, vocabularies embedded in the binary), chosen by
//! `cargo bench --bench tokens`: it gave the same counts and token ids as tiktoken-rs on every
//! corpus and was faster than it on every one (about 1.5x overall; never a slow path, where the
//! fastest crate on plain English fell to 1/50 of tiktoken-rs on unusual Unicode). Each
//! vocabulary is decoded once, on first use (tens of milliseconds; about 100 MB resident for
//! both), and [`preload`] does it at start-up. Counting is linear in the input, so a megabyte without a
//! single space is still fast; a caller on the async runtime should still count very large texts
//! (hundreds of kilobytes) on a blocking thread.
//!
//! Models of other families (Claude, Gemini, Llama, Mistral, Qwen, ...) use tokenizers that are
//! not public or not embedded here: for them the o200k count is the documented approximation
//! (it can be off by tens of percent, more for non-English text), and [`is_exact_for`] says so. Usage reported
//! by an upstream always wins over a count made here.

use bpe_openai::Tokenizer;

/// A BPE vocabulary and its pre-tokenisation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `o200k_base`: GPT-4o, GPT-4.1, GPT-4.5, GPT-5, o1, o3, o4 and gpt-oss.
    O200k,
    /// `cl100k_base`: GPT-4, GPT-4 Turbo, GPT-3.5 Turbo and OpenAI embeddings.
    Cl100k,
}

impl Encoding {
    /// The encoding's name as OpenAI's tiktoken spells it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::O200k => "o200k_base",
            Encoding::Cl100k => "cl100k_base",
        }
    }

    /// The encoding used for `model`: exact for OpenAI models, o200k as the approximation for
    /// every other family (see [`is_exact_for`]).
    pub fn for_model(model: &str) -> Encoding {
        openai_encoding(model).unwrap_or(Encoding::O200k)
    }
}

/// Shorthand for [`Encoding::for_model`].
pub fn for_model(model: &str) -> Encoding {
    Encoding::for_model(model)
}

/// Whether [`count`] with [`for_model`]`(model)` gives the exact count of that model's own
/// tokenizer (true for OpenAI's GPT and o-series models; false for every other family, where
/// the o200k count is an approximation).
pub fn is_exact_for(model: &str) -> bool {
    openai_encoding(model).is_some()
}

/// The number of tokens in `text` under `enc`, counted as ordinary text.
pub fn count(enc: Encoding, text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    bpe(enc).count(text)
}

/// The number of tokens `model` would see in `text` (exact or approximate, see [`is_exact_for`]).
pub fn count_for_model(model: &str, text: &str) -> usize {
    count(for_model(model), text)
}

/// Decodes both vocabularies now instead of on the first count (for start-up, so that the first
/// request does not pay for it).
pub fn preload() {
    let _ = bpe(Encoding::O200k);
    let _ = bpe(Encoding::Cl100k);
}

/// The tokenizer for `enc`: a process-wide `LazyLock` inside `bpe-openai`, decoded once from the
/// vocabulary embedded in the binary.
fn bpe(enc: Encoding) -> &'static Tokenizer {
    match enc {
        Encoding::O200k => bpe_openai::o200k_base(),
        Encoding::Cl100k => bpe_openai::cl100k_base(),
    }
}

/// OpenAI model families by encoding; checked in order, so `gpt-4o` is matched before `gpt-4`.
const OPENAI_FAMILIES: &[(&str, Encoding)] = &[
    ("gpt-4o", Encoding::O200k),
    ("gpt-4.1", Encoding::O200k),
    ("gpt-4.5", Encoding::O200k),
    ("gpt-5", Encoding::O200k),
    ("gpt-oss", Encoding::O200k),
    ("chatgpt-4o", Encoding::O200k),
    ("codex-mini", Encoding::O200k),
    ("o1", Encoding::O200k),
    ("o3", Encoding::O200k),
    ("o4", Encoding::O200k),
    ("gpt-4", Encoding::Cl100k),
    ("gpt-3.5", Encoding::Cl100k),
    ("gpt-35", Encoding::Cl100k), // Azure's spelling of gpt-3.5
    ("text-embedding-3", Encoding::Cl100k),
    ("text-embedding-ada-002", Encoding::Cl100k),
];

/// The exact encoding of an OpenAI model, or `None` for other families. Accepts the forms seen in
/// the wild: any case, a routing prefix (`openai/gpt-4o`), a fine-tune (`ft:gpt-4o-mini:org::id`),
/// a dated or tagged variant (`gpt-4o-2024-08-06`, `gpt-5:latest`).
fn openai_encoding(model: &str) -> Option<Encoding> {
    let lower = model.trim().to_ascii_lowercase();
    let mut name = lower.as_str();
    if let Some(rest) = name.strip_prefix("ft:") {
        name = rest;
    }
    if let Some((_, rest)) = name.rsplit_once('/') {
        name = rest;
    }
    OPENAI_FAMILIES
        .iter()
        .find(|(family, _)| is_family(name, family))
        .map(|&(_, enc)| enc)
}

/// `name` is `family` or a variant of it: the family followed by nothing or a separator (so
/// `o3-mini` is `o3`, but `o30` or `orca` is not).
fn is_family(name: &str, family: &str) -> bool {
    name.strip_prefix(family)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['-', '.', ':', '@', '_']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(enc: Encoding, text: &str) -> usize {
        let bpe = match enc {
            Encoding::O200k => tiktoken_rs::o200k_base_singleton(),
            Encoding::Cl100k => tiktoken_rs::cl100k_base_singleton(),
        };
        bpe.encode_ordinary(text).len()
    }

    fn assert_exact(text: &str) {
        for enc in [Encoding::O200k, Encoding::Cl100k] {
            assert_eq!(
                count(enc, text),
                reference(enc, text),
                "{} count differs for {text:?}",
                enc.name()
            );
        }
    }

    #[test]
    fn known_counts() {
        for enc in [Encoding::O200k, Encoding::Cl100k] {
            assert_eq!(count(enc, ""), 0);
            assert_eq!(count(enc, "hello world"), 2);
            assert_eq!(count(enc, " "), 1);
        }
        // The encodings differ on CJK: o200k has many more multi-character CJK tokens.
        let cjk = "人工智能正在改变世界，我们需要认真思考它的影响。";
        assert!(count(Encoding::O200k, cjk) < count(Encoding::Cl100k, cjk));
    }

    #[test]
    fn matches_tiktoken_rs_on_samples() {
        let long_word = "a".repeat(20_000);
        let long_mixed: String = (0..30_000)
            .map(|i| char::from(b"abcXYZ019+/="[i * 7 % 12]))
            .collect();
        let samples = [
            "",
            "Hello, world!",
            "The quick brown fox jumps over the lazy dog.\n\nIt's 2024; they're here, we'll see.",
            "  leading and trailing spaces   ",
            "tabs\tand\r\nwindows\r\nnewlines\n\n\n",
            "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
            "<|endoftext|> is plain text here <|endofprompt|>",
            "naïve café résumé, Größe straße, ÅNGSTRÖM İstanbul",
            "Привет, мир! Ελληνικά. مرحبا بالعالم. नमस्ते दुनिया",
            "日本語のテキストと中文文本，还有한국어 텍스트。",
            "emoji 😀🚀👩‍💻👨‍👩‍👧‍👦🏳️‍🌈🇩🇪 👍🏽 ❤️",
            "combining e\u{301}te\u{301} and ﬁ ligature, x² ½ ①②③ ٣٤٥",
            "12345678901234567890 3.14159 1e-10 0xdeadBEEF",
            ".\n/ punctuation then newline then slash",
            "I'LL DON'T can't WE'VE you'd",
            "\u{a0}nbsp\u{3000}ideographic space\u{2009}thin",
            &long_word,
            &long_mixed,
        ];
        for s in samples {
            assert_exact(s);
        }
    }

    /// Random strings over an alphabet chosen to stress pre-tokenisation edges: case changes,
    /// apostrophes, digits, every kind of whitespace, CJK, emoji and combining marks.
    #[test]
    fn matches_tiktoken_rs_on_random_strings() {
        const ALPHABET: &[&str] = &[
            "a",
            "b",
            "Z",
            "Q",
            "é",
            "É",
            "ß",
            "ǅ",
            "'",
            "'s",
            "'T",
            "'ll",
            "'RE",
            "0",
            "7",
            "42",
            "٣",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\r",
            "\u{a0}",
            "\u{3000}",
            ".",
            ",",
            "!",
            "/",
            "\\",
            "-",
            "_",
            "(",
            "}",
            "\"",
            "#",
            "中",
            "文",
            "の",
            "カ",
            "한",
            "😀",
            "👍🏽",
            "‍",
            "\u{301}",
            "\u{fe0f}",
            "ﬁ",
            "Ⅻ",
            "<|endoftext|>",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..3000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            assert_exact(&s);
        }
    }

    #[test]
    fn model_families() {
        for m in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4o-2024-08-06",
            "GPT-4o",
            "chatgpt-4o-latest",
            "gpt-4.1-nano",
            "gpt-4.5-preview",
            "gpt-5",
            "gpt-5-mini",
            "gpt-oss-20b",
            "o1",
            "o1-mini",
            "o3-mini-2025-01-31",
            "o4-mini",
            "openai/gpt-4o",
            "ft:gpt-4o-mini-2024-07-18:acme::abc123",
        ] {
            assert_eq!(Encoding::for_model(m), Encoding::O200k, "{m}");
            assert!(is_exact_for(m), "{m}");
        }
        for m in [
            "gpt-4",
            "gpt-4-turbo",
            "gpt-4-0613",
            "gpt-4-32k",
            "gpt-3.5-turbo",
            "gpt-35-turbo",
            "text-embedding-3-small",
        ] {
            assert_eq!(Encoding::for_model(m), Encoding::Cl100k, "{m}");
            assert!(is_exact_for(m), "{m}");
        }
        for m in [
            "claude-sonnet-4-20250514",
            "gemini-2.5-pro",
            "llama3.1:8b",
            "mistral-large-latest",
            "qwen2.5-coder",
            "orca-mini",
            "o30",
            "",
        ] {
            assert_eq!(Encoding::for_model(m), Encoding::O200k, "{m}");
            assert!(!is_exact_for(m), "{m}");
        }
        assert_eq!(count_for_model("gpt-3.5-turbo", "hello world"), 2);
    }
}
