//! Counts by tag and by model over everything a query matches, read from the fast-field
//! columns: one counter per term of each segment, named and merged once at the end.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::Counts;

/// How many values of each facet are returned, most frequent first.
const TOP: usize = 20;

/// Collects the tag and model counts.
pub(super) struct Facets;

/// One segment's counters.
pub(super) struct SegmentFacets {
    columns: [Option<(StrColumn, Vec<u32>)>; 2],
}

impl Collector for Facets {
    type Fruit = (Counts, Counts);
    type Child = SegmentFacets;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let column = |name: &str| -> tantivy::Result<Option<(StrColumn, Vec<u32>)>> {
            Ok(reader.fast_fields().str(name)?.map(|c| {
                let n = c.num_terms();
                (c, vec![0; n])
            }))
        };
        Ok(SegmentFacets {
            columns: [column("tag")?, column("model")?],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<[Vec<(String, u64)>; 2]>) -> tantivy::Result<Self::Fruit> {
        let mut merged: [HashMap<String, u64>; 2] = Default::default();
        for fruit in fruits {
            for (into, counts) in merged.iter_mut().zip(fruit) {
                for (name, n) in counts {
                    *into.entry(name).or_default() += n;
                }
            }
        }
        let [tags, models] = merged.map(|m| {
            let mut v: Vec<(String, u64)> = m.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            v.truncate(TOP);
            v
        });
        Ok((tags, models))
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = [Vec<(String, u64)>; 2];

    fn collect(&mut self, doc: DocId, _: Score) {
        for (column, counts) in self.columns.iter_mut().flatten() {
            for ord in column.term_ords(doc) {
                counts[ord as usize] += 1;
            }
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.columns.map(|c| {
            let Some((column, counts)) = c else {
                return Vec::new();
            };
            let mut out = Vec::new();
            for (ord, n) in counts.into_iter().enumerate() {
                let mut name = String::new();
                if n > 0 && column.ord_to_str(ord as u64, &mut name).unwrap_or(false) {
                    out.push((name, u64::from(n)));
                }
            }
            out
        })
    }
}
