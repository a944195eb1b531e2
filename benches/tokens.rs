//! Token counting: exactness and speed of the BPE crates against tiktoken-rs, side by side.
//!
//! Run: `cargo bench --bench tokens` (release build; takes a few minutes on 2 cores).
//!
//! One run generates the same corpora for every candidate (ASCII prose, source code, multilingual
//! text with CJK and emoji, random code points from every plane, one very long line without
//! spaces, and chat-sized snippets; about 1 MB in all), checks that every document gets the same
//! count AND the same token ids as tiktoken-rs (the Rust port of OpenAI's tiktoken) in o200k_base
//! and cl100k_base, and times counting. Rounds alternate between candidates so that drift on a
//! shared machine hits all of them alike. The table shows, per corpus, the best round as
//! ns/token and the speed-up over tiktoken-rs (higher is faster); "first pass" sums the first
//! pass over each corpus, before any cache a crate keeps between calls has seen its pieces.
//! Exits non-zero on any mismatch.
//!
//! Candidates (all embed their vocabularies; nothing is downloaded):
//! - `tiktoken-rs`: the reference.
//! - `bpe-openai`: GitHub's linear-time BPE (rust-gems); the backend of `llm::tokens`.
//! - `tiktoken`: goliajp's pure-Rust reimplementation (hand-written ASCII/CJK pre-tokenizer,
//!   piece cache). Fastest on English and code, but its regex fallback for other Unicode is
//!   1/15 to 1/50 of tiktoken-rs's speed, and it is kept here to show that.
//! - `promptyard`: `promptyard::llm::tokens::count`, the function the server uses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use promptyard::llm::tokens::{self as ours, Encoding};

const ROUNDS: usize = 7;

// ---------------------------------------------------------------------------------------------
// Candidates

#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    O200k,
    Cl100k,
}

impl Enc {
    fn name(self) -> &'static str {
        match self {
            Enc::O200k => "o200k",
            Enc::Cl100k => "cl100k",
        }
    }
}

struct Candidate {
    name: &'static str,
    count: fn(Enc, &str) -> usize,
    /// Token ids, for the exactness check (None when the crate only counts).
    encode: Option<fn(Enc, &str) -> Vec<u32>>,
}

fn tiktoken_rs_bpe(enc: Enc) -> &'static tiktoken_rs::CoreBPE {
    match enc {
        Enc::O200k => tiktoken_rs::o200k_base_singleton(),
        Enc::Cl100k => tiktoken_rs::cl100k_base_singleton(),
    }
}

fn bpe_openai_tok(enc: Enc) -> &'static bpe_openai::Tokenizer {
    match enc {
        Enc::O200k => bpe_openai::o200k_base(),
        Enc::Cl100k => bpe_openai::cl100k_base(),
    }
}

fn tiktoken_bpe(enc: Enc) -> &'static tiktoken::CoreBpe {
    let name = match enc {
        Enc::O200k => "o200k_base",
        Enc::Cl100k => "cl100k_base",
    };
    tiktoken::get_encoding(name).expect("encoding compiled in")
}

fn candidates() -> Vec<Candidate> {
    vec![
        Candidate {
            name: "tiktoken-rs",
            count: |e, t| tiktoken_rs_bpe(e).encode_ordinary(t).len(),
            encode: Some(|e, t| tiktoken_rs_bpe(e).encode_ordinary(t)),
        },
        Candidate {
            name: "bpe-openai",
            count: |e, t| bpe_openai_tok(e).count(t),
            encode: Some(|e, t| bpe_openai_tok(e).encode(t)),
        },
        Candidate {
            name: "tiktoken",
            count: |e, t| tiktoken_bpe(e).count(t),
            encode: Some(|e, t| tiktoken_bpe(e).encode(t)),
        },
        Candidate {
            name: "promptyard",
            count: |e, t| {
                let e = match e {
                    Enc::O200k => Encoding::O200k,
                    Enc::Cl100k => Encoding::Cl100k,
                };
                ours::count(e, t)
            },
            encode: None,
        },
    ]
}

// ---------------------------------------------------------------------------------------------
// Corpora: deterministic, varied enough that a piece cache cannot simply replay one paragraph.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const WORDS: &[&str] = &[
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "I",
    "this",
    "are",
    "or",
    "his",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "had",
    "they",
    "you",
    "were",
    "their",
    "one",
    "all",
    "we",
    "can",
    "her",
    "has",
    "there",
    "been",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
    "prompt",
    "template",
    "model",
    "token",
    "version",
    "workspace",
    "context",
    "latency",
    "budget",
    "stream",
    "answer",
    "question",
    "summarise",
    "translate",
    "carefully",
    "organisation",
    "nevertheless",
    "extraordinary",
    "internationalization",
    "approximately",
    "configuration",
    "don't",
    "it's",
    "they're",
    "we've",
    "I'll",
    "she'd",
    "IT'S",
    "McDonald's",
    "iPhone",
    "OpenAI",
    "JSON",
    "HTTP/2",
    "e.g.",
    "i.e.",
    "U.S.A.",
    "naïve",
    "café",
    "coöperate",
    "résumé",
    "façade",
];

const SYLLABLES: &[&str] = &[
    "ka", "ri", "to", "mel", "var", "quo", "zen", "strat", "plix", "dor", "un", "ex", "bri", "gha",
    "thor", "ly", "ment", "ion", "ous", "ish", "sch", "ght", "rr", "y", "ae", "oo",
];

fn pseudo_word(r: &mut Rng) -> String {
    let n = 1 + r.below(4);
    let mut w = String::new();
    for _ in 0..n {
        w.push_str(r.pick(SYLLABLES));
    }
    if r.chance(10) {
        let mut c = w.chars();
        if let Some(f) = c.next() {
            w = f.to_uppercase().chain(c).collect();
        }
    }
    if r.chance(3) {
        w = w.to_uppercase();
    }
    w
}

fn prose(r: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 64);
    let mut sentence_start = true;
    while s.len() < bytes {
        let mut w = if r.chance(35) {
            pseudo_word(r)
        } else {
            r.pick(WORDS).to_string()
        };
        if sentence_start {
            let mut c = w.chars();
            if let Some(f) = c.next() {
                w = f.to_uppercase().chain(c).collect();
            }
            sentence_start = false;
        }
        s.push_str(&w);
        match r.below(100) {
            0..=5 => {
                s.push_str(". ");
                sentence_start = true;
            }
            6..=8 => s.push_str(", "),
            9 => s.push_str("; "),
            10 => {
                s.push_str(".\n\n");
                sentence_start = true;
            }
            11 => s.push_str(&format!(" {} ", r.below(100_000))),
            12 => s.push_str(&format!(" ({}%) ", r.below(1000) as f64 / 10.0)),
            13 => s.push_str(" \"quoted\" "),
            14 => s.push_str("  "),
            15 => s.push_str(" -- "),
            16 => s.push_str("?\n"),
            17 => s.push_str("!\r\n"),
            18 => s.push_str(" <|endoftext|> "),
            19 => s.push_str(" \t "),
            _ => s.push(' '),
        }
    }
    s
}

fn ident(r: &mut Rng) -> String {
    let parts = 1 + r.below(3);
    let mut id = String::new();
    let camel = r.chance(40);
    for i in 0..parts {
        let mut p = pseudo_word(r).to_lowercase();
        if camel && i > 0 {
            let mut c = p.chars();
            if let Some(f) = c.next() {
                p = f.to_uppercase().chain(c).collect();
            }
        } else if i > 0 {
            id.push('_');
        }
        id.push_str(&p);
    }
    id
}

fn code(r: &mut Rng, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 256);
    let mut depth: usize = 0;
    while s.len() < bytes {
        let indent = if r.chance(20) {
            "\t".repeat(depth)
        } else {
            "    ".repeat(depth)
        };
        let line = match r.below(14) {
            0 if depth < 6 => {
                depth += 1;
                format!(
                    "fn {}(&self, {}: &str) -> Result<{}, Error> {{",
                    ident(r),
                    ident(r),
                    ident(r)
                )
            }
            1 if depth < 6 => {
                depth += 1;
                format!(
                    "def {}({}, {}={}):",
                    ident(r),
                    ident(r),
                    ident(r),
                    r.below(1000)
                )
            }
            2 | 11 if depth > 0 => {
                depth -= 1;
                "}".to_string()
            }
            3 => format!("let {} = {}.{}()?;", ident(r), ident(r), ident(r)),
            4 => {
                let n = 40 + r.below(60);
                format!("// {}", prose(r, n).replace('\n', " "))
            }
            5 => format!(
                "{{\"{}\": [{}, {}.{}, \"{}\", null, true]}},",
                ident(r),
                r.below(1 << 20),
                r.below(100),
                r.below(100_000),
                ident(r)
            ),
            6 => format!(
                "if {} >= 0x{:x} && {} != '\\n' {{ return; }}",
                ident(r),
                r.next() >> 40,
                ident(r)
            ),
            7 => format!(
                "<div class=\"{}\" id='{}'>{}</div>",
                ident(r),
                ident(r),
                ident(r)
            ),
            8 => format!(
                "SELECT {}, COUNT(*) FROM {} WHERE {} = ${} GROUP BY 1;",
                ident(r),
                ident(r),
                ident(r),
                r.below(9)
            ),
            9 => format!(
                "    assert_eq!({}[{}], {:?});",
                ident(r),
                r.below(64),
                ident(r)
            ),
            10 => format!(
                "import {}.{} as {}  # noqa: E501",
                ident(r),
                ident(r),
                ident(r)
            ),
            11 => String::new(),
            12 => format!(
                "x+=1;y-=2;z*={};w/={}::<{}>(&mut *p)?;",
                r.below(99),
                ident(r),
                ident(r)
            ),
            _ => format!("{}({}, {});", ident(r), ident(r), r.below(1_000_000)),
        };
        s.push_str(&indent);
        s.push_str(&line);
        s.push_str(if r.chance(5) { "\r\n" } else { "\n" });
        if r.chance(2) {
            s.push_str("   \n\n");
        }
    }
    s
}

/// Text in many scripts, built from real words: Chinese and Japanese without spaces, Korean,
/// Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, accented Latin, emoji, odd spaces.
fn multilingual(r: &mut Rng, bytes: usize) -> String {
    const ZH: &[&str] = &[
        "我们",
        "人工智能",
        "模型",
        "数据",
        "问题",
        "时间",
        "工作",
        "学习",
        "技术",
        "发展",
        "社会",
        "国家",
        "经济",
        "世界",
        "中国",
        "公司",
        "用户",
        "系统",
        "语言",
        "生活",
        "方法",
        "需要",
        "可以",
        "没有",
        "因为",
        "所以",
        "但是",
        "如果",
        "已经",
        "非常",
        "重要",
        "研究",
        "提供",
        "使用",
        "进行",
        "通过",
        "能够",
        "认为",
        "这个",
        "一个",
        "什么",
        "怎么",
        "为什么",
        "今天",
        "明天",
        "朋友",
        "老师",
        "学生",
        "医院",
        "城市",
        "文化",
        "历史",
        "科学",
        "音乐",
        "电影",
        "手机",
        "网络",
        "安全",
        "隐私",
        "代码",
        "程序",
        "测试",
        "结果",
        "分析",
        "报告",
        "设计",
        "产品",
        "服务",
        "市场",
        "价格",
        "成本",
        "的",
        "了",
        "是",
        "在",
        "和",
        "有",
        "也",
        "就",
        "都",
        "很",
        "把",
        "被",
        "让",
        "给",
        "对",
        "从",
        "到",
        "说",
        "看",
        "想",
        "做",
    ];
    const JA: &[&str] = &[
        "私",
        "は",
        "が",
        "を",
        "に",
        "で",
        "と",
        "の",
        "も",
        "日本語",
        "勉強",
        "しています",
        "東京",
        "大阪",
        "ありがとう",
        "ございます",
        "こんにちは",
        "今日",
        "天気",
        "いい",
        "です",
        "ね",
        "プロンプト",
        "エンジニアリング",
        "モデル",
        "テスト",
        "データ",
        "会社",
        "仕事",
        "時間",
        "電車",
        "食べる",
        "飲む",
        "行きます",
        "来ます",
        "でした",
        "ません",
        "ユーザー",
        "サーバー",
        "設定",
        "確認",
        "問題",
        "解決",
        "方法",
        "説明",
        "してください",
    ];
    const OTHER: &[&str] = &[
        "안녕하세요",
        "감사합니다",
        "한국어",
        "데이터",
        "모델",
        "사용자",
        "시스템",
        "오늘은",
        "Привет",
        "мир",
        "искусственный",
        "интеллект",
        "Пожалуйста",
        "ответьте",
        "кратко",
        "Ελληνικά",
        "λέξη",
        "καλημέρα",
        "مرحبا",
        "بالعالم",
        "الذكاء",
        "الاصطناعي",
        "שלום",
        "עולם",
        "नमस्ते",
        "दुनिया",
        "कृत्रिम",
        "बुद्धिमत्ता",
        "ภาษาไทย",
        "สวัสดี",
        "Tiếng",
        "Việt",
        "Größe",
        "straße",
        "Übermäßig",
        "ÅNGSTRÖM",
        "naïve",
        "café",
        "déjà",
        "señor",
        "İstanbul",
        "Zürich",
        "łódź",
        "ﬁnance",
        "e\u{301}te\u{301}",
        "x²",
        "½",
        "①②③",
        "٣٤٥",
        "€100",
        "£5",
        "¥300",
        "→",
        "…",
        "“quoted”",
        "«guillemets»",
    ];
    const EMOJI: &[&str] = &[
        "😀",
        "🙂",
        "🚀",
        "🎉",
        "👍🏽",
        "👩‍💻",
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",
        "🇩🇪",
        "🇯🇵",
        "❤️",
        "✅",
        "🤖",
        "🧪",
        "🔥",
    ];
    const ZH_PUNCT: &[&str] = &["，", "。", "、", "！", "？\n", "：", "「", "」", "；"];
    const SPACES: &[&str] = &[
        " ", " ", " ", "\u{a0}", "\u{3000}", ", ", "\n", "\u{2009}", "  ", ". ",
    ];
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        match r.below(10) {
            0..=2 => {
                for _ in 0..3 + r.below(12) {
                    s.push_str(r.pick(ZH));
                }
                s.push_str(r.pick(ZH_PUNCT));
            }
            3 | 4 => {
                for _ in 0..3 + r.below(10) {
                    s.push_str(r.pick(JA));
                }
                s.push_str(r.pick(&["。", "、", "！\n", "？"]));
            }
            5..=7 => {
                for _ in 0..2 + r.below(8) {
                    s.push_str(r.pick(OTHER));
                    s.push_str(r.pick(SPACES));
                }
            }
            8 => {
                s.push_str(r.pick(EMOJI));
                if r.chance(30) {
                    s.push_str(r.pick(EMOJI));
                }
                s.push(' ');
            }
            _ => {
                let n = 30 + r.below(80);
                s.push_str(&prose(r, n));
            }
        }
    }
    s
}

/// Adversarial Unicode: random code points from every plane up to U+2FFFF (unassigned ones,
/// combining marks, rare scripts, symbols), in short runs between odd spaces.
fn random_unicode(r: &mut Rng, bytes: usize) -> String {
    const SPACES: &[&str] = &[" ", "\u{a0}", "\u{3000}", "\u{2009}", "\n", "\t"];
    let mut s = String::with_capacity(bytes + 64);
    while s.len() < bytes {
        for _ in 0..1 + r.below(8) {
            if let Some(c) = char::from_u32(r.below(0x3_0000) as u32)
                && !c.is_control()
            {
                s.push(c);
            }
        }
        s.push_str(r.pick(SPACES));
    }
    s
}

/// One line, no spaces: base64, hex, minified JSON, URL-encoded text and long runs of lowercase
/// letters (one BPE piece each, the quadratic worst case for naive merging).
fn long_line(r: &mut Rng, bytes: usize) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes + 4096);
    while s.len() < bytes {
        match r.below(5) {
            0 => {
                for _ in 0..200 + r.below(2000) {
                    s.push(B64[r.below(64)] as char);
                }
            }
            1 => {
                for _ in 0..100 + r.below(1000) {
                    s.push_str(&format!("{:02x}", r.below(256)));
                }
            }
            2 => {
                for _ in 0..20 + r.below(100) {
                    s.push_str(&format!(
                        "{{\"{}\":[{},\"{}\"]}},",
                        ident(r),
                        r.below(99999),
                        ident(r)
                    ));
                }
            }
            3 => {
                for _ in 0..50 + r.below(300) {
                    s.push_str(&format!("%{:02X}{}", r.below(256), ident(r)));
                }
            }
            _ => {
                for _ in 0..500 + r.below(3000) {
                    s.push((b'a' + r.below(26) as u8) as char);
                }
            }
        }
    }
    s
}

fn split_docs(text: &str, target: usize) -> Vec<String> {
    let mut docs = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + target).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        docs.push(text[start..end].to_string());
        start = end;
    }
    docs
}

struct Corpus {
    name: &'static str,
    docs: Vec<String>,
}

impl Corpus {
    fn bytes(&self) -> usize {
        self.docs.iter().map(String::len).sum()
    }
}

fn corpora() -> Vec<Corpus> {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let corpus = |name, docs| Corpus { name, docs };
    vec![
        corpus("prose (ASCII)", split_docs(&prose(&mut r, 250_000), 4096)),
        corpus("code", split_docs(&code(&mut r, 250_000), 4096)),
        corpus(
            "multilingual, emoji",
            split_docs(&multilingual(&mut r, 250_000), 4096),
        ),
        corpus(
            "random code points",
            split_docs(&random_unicode(&mut r, 100_000), 4096),
        ),
        corpus("long line, no spaces", vec![long_line(&mut r, 150_000)]),
        corpus(
            "chat-sized (~120 B)",
            split_docs(&prose(&mut r, 40_000), 120),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Measurement

fn pass(c: &Candidate, enc: Enc, corpus: &Corpus) -> (Duration, usize) {
    let start = Instant::now();
    let mut total = 0;
    for d in &corpus.docs {
        total += (c.count)(enc, black_box(d.as_str()));
    }
    (start.elapsed(), black_box(total))
}

fn main() -> ExitCode {
    let cands = candidates();
    let corpora = corpora();
    let total_bytes: usize = corpora.iter().map(Corpus::bytes).sum();
    println!(
        "token counting: {} corpora, {} bytes, {} candidates, best of {ROUNDS} rounds",
        corpora.len(),
        total_bytes,
        cands.len()
    );

    // Load every vocabulary before timing anything.
    for enc in [Enc::O200k, Enc::Cl100k] {
        for c in &cands {
            let t = Instant::now();
            black_box((c.count)(enc, "warm up"));
            println!(
                "  load {:<12} {:<6} {:>8.1} ms",
                c.name,
                enc.name(),
                t.elapsed().as_secs_f64() * 1e3
            );
        }
    }

    let mut failures = 0usize;
    // rows: (corpus, enc, tokens, first[cand], best[cand])
    let mut rows = Vec::new();
    for enc in [Enc::O200k, Enc::Cl100k] {
        for corpus in &corpora {
            let mut first = Vec::new();
            let mut best = vec![Duration::MAX; cands.len()];
            let mut totals = Vec::new();
            for c in &cands {
                let (d, n) = pass(c, enc, corpus);
                first.push(d);
                totals.push(n);
            }
            for _ in 0..ROUNDS {
                for (i, c) in cands.iter().enumerate() {
                    let (d, n) = pass(c, enc, corpus);
                    if n != totals[i] {
                        println!(
                            "NONDETERMINISTIC: {} {} {}",
                            c.name,
                            enc.name(),
                            corpus.name
                        );
                        failures += 1;
                    }
                    best[i] = best[i].min(d);
                }
            }
            // Exactness: per document, counts and ids against the reference.
            let reference = &cands[0];
            for (di, d) in corpus.docs.iter().enumerate() {
                let want_ids = (reference.encode.expect("reference encodes"))(enc, d);
                for c in &cands[1..] {
                    let got = (c.count)(enc, d);
                    let ids_ok = c.encode.is_none_or(|e| e(enc, d) == want_ids);
                    if got != want_ids.len() || !ids_ok {
                        failures += 1;
                        if failures <= 20 {
                            println!(
                                "MISMATCH {} {} {} doc {di}: count {got} want {} ids_equal={ids_ok}",
                                c.name,
                                enc.name(),
                                corpus.name,
                                want_ids.len()
                            );
                        }
                    }
                }
            }
            rows.push((corpus.name, enc, totals[0], first, best));
        }
    }

    // Table.
    println!();
    let mut header = format!("{:<22} {:<6} {:>8} |", "corpus", "enc", "tokens");
    for c in &cands {
        header.push_str(&format!(" {:>22} |", format!("{} ns/tok (x)", c.name)));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    let mut sum_best = vec![Duration::ZERO; cands.len()];
    let mut sum_first = vec![Duration::ZERO; cands.len()];
    let mut sum_tokens = 0usize;
    for (name, enc, tokens, first, best) in &rows {
        let mut line = format!("{:<22} {:<6} {:>8} |", name, enc.name(), tokens);
        for i in 0..cands.len() {
            let ns = best[i].as_secs_f64() * 1e9 / *tokens as f64;
            let x = best[0].as_secs_f64() / best[i].as_secs_f64();
            line.push_str(&format!(" {:>12.1} {:>8.2}x |", ns, x));
            sum_best[i] += best[i];
            sum_first[i] += first[i];
        }
        sum_tokens += tokens;
        println!("{line}");
    }
    println!("{}", "-".repeat(header.len()));
    for (label, sums) in [
        ("all, best round", &sum_best),
        ("all, first pass", &sum_first),
    ] {
        let mut line = format!("{:<22} {:<6} {:>8} |", label, "both", sum_tokens);
        for s in sums.iter() {
            let ns = s.as_secs_f64() * 1e9 / sum_tokens as f64;
            let x = sums[0].as_secs_f64() / s.as_secs_f64();
            line.push_str(&format!(" {:>12.1} {:>8.2}x |", ns, x));
        }
        println!("{line}");
    }
    let mut line = format!("{:<22} {:<6} {:>8} |", "geomean of rows", "both", "");
    for i in 0..cands.len() {
        let log_sum: f64 = rows
            .iter()
            .map(|(_, _, _, _, best)| (best[0].as_secs_f64() / best[i].as_secs_f64()).ln())
            .sum();
        let x = (log_sum / rows.len() as f64).exp();
        line.push_str(&format!(" {:>12} {:>8.2}x |", "", x));
    }
    println!("{line}");
    println!("(x = speed-up over tiktoken-rs, higher is faster)");

    if failures > 0 {
        println!("\nFAILED: {failures} mismatches against tiktoken-rs");
        ExitCode::FAILURE
    } else {
        println!("\nall counts and token ids identical to tiktoken-rs");
        ExitCode::SUCCESS
    }
}
