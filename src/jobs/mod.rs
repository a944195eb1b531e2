//! Background work that joins infrastructure: the search indexer (store change log -> search
//! index) and the retention job (old runs out of the store). Nothing here knows HTTP.

pub mod indexer;
pub mod retention;
