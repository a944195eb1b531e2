//! The provider-neutral embeddings request and answer, as OpenAI's `/v1/embeddings` shapes them.

use serde::{Deserialize, Serialize};

/// What to embed: one text, several, or token ids (OpenAI and compatible servers only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    Text(String),
    /// Several texts, one vector each.
    Texts(Vec<String>),
    /// One text as token ids.
    Tokens(Vec<u32>),
    /// Several texts as token ids.
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// How many vectors the answer has.
    pub fn len(&self) -> usize {
        match self {
            Self::Text(_) | Self::Tokens(_) => 1,
            Self::Texts(t) => t.len(),
            Self::TokenLists(t) => t.len(),
        }
    }

    /// Whether there is nothing to embed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The texts, when the input is text.
    pub fn texts(&self) -> Option<Vec<&str>> {
        match self {
            Self::Text(t) => Some(vec![t.as_str()]),
            Self::Texts(t) => Some(t.iter().map(String::as_str).collect()),
            Self::Tokens(_) | Self::TokenLists(_) => None,
        }
    }
}

/// An embeddings request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model id.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
    /// Fewer dimensions than the model's own (models that support it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// The end user, for the provider's abuse monitoring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// An embeddings answer: one vector per input, in input order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Embedded {
    /// The vectors.
    pub vectors: Vec<Vec<f32>>,
    /// Prompt tokens as the provider counted them.
    pub input_tokens: Option<u64>,
}
