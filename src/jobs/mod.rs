//! Background work that joins infrastructure: the search indexer (store change log -> search
//! index). Nothing here knows HTTP.

pub mod indexer;
