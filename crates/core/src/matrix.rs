//! The rule index: for each matrix dimension, a bitset of the rules that accept each value
//! (plus those with no condition there). A lead's candidate rules are the AND over the
//! dimensions, so matching 2,000 rules costs a few hundred word operations instead of
//! 2,000 rule walks. Bit order is precedence order, so the first set bit wins.

use crate::config::{Dim, Rule};
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    words: usize,
    rules: usize,
    dims: Vec<DimIndex>,
}

#[derive(Debug, Clone, Default)]
struct DimIndex {
    any: Vec<u64>,
    by_value: HashMap<String, Vec<u64>>,
    /// Postal prefixes ("94*") with their rule, checked one by one (few in practice).
    prefixes: Vec<(String, usize)>,
}

/// The lead's value on each dimension, normalised like rule conditions.
pub type DimValues<'a> = [Option<&'a str>; 9];

impl RuleIndex {
    pub fn build(rules: &[Rule]) -> Self {
        let words = rules.len().div_ceil(64).max(1);
        let mut dims = Vec::with_capacity(9);
        for d in Dim::ALL {
            let mut di = DimIndex {
                any: vec![0; words],
                ..Default::default()
            };
            for (i, r) in rules.iter().enumerate() {
                let c = r.cond(d);
                if c.is_empty() {
                    set(&mut di.any, i);
                    continue;
                }
                for v in c {
                    if d == Dim::PostalCode && v.ends_with('*') {
                        di.prefixes.push((v.trim_end_matches('*').to_string(), i));
                    } else {
                        set(
                            di.by_value
                                .entry(v.clone())
                                .or_insert_with(|| vec![0; words]),
                            i,
                        );
                    }
                }
            }
            dims.push(di);
        }
        RuleIndex {
            words,
            rules: rules.len(),
            dims,
        }
    }

    /// Bitset of rules whose every condition accepts the lead's values.
    pub fn candidates(&self, values: &DimValues) -> Vec<u64> {
        let mut acc = vec![u64::MAX; self.words];
        if !self.rules.is_multiple_of(64) {
            acc[self.words - 1] = (1u64 << (self.rules % 64)) - 1;
        }
        if self.rules == 0 {
            acc[0] = 0;
            return acc;
        }
        for (d, di) in Dim::ALL.iter().zip(&self.dims) {
            let v = values[*d as usize];
            let exact = v.and_then(|v| di.by_value.get(v));
            let mut prefix_bits: Option<Vec<u64>> = None;
            if let Some(v) = v
                && *d == Dim::PostalCode
                && !di.prefixes.is_empty()
            {
                let mut bits = vec![0; self.words];
                for (p, i) in &di.prefixes {
                    if v.starts_with(p.as_str()) {
                        set(&mut bits, *i);
                    }
                }
                prefix_bits = Some(bits);
            }
            for w in 0..self.words {
                let mut ok = di.any[w];
                if let Some(e) = exact {
                    ok |= e[w];
                }
                if let Some(p) = &prefix_bits {
                    ok |= p[w];
                }
                acc[w] &= ok;
            }
        }
        acc
    }
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

/// Indices of set bits in ascending order.
pub fn ones(bits: &[u64]) -> impl Iterator<Item = usize> + '_ {
    bits.iter().enumerate().flat_map(|(w, &word)| {
        let mut x = word;
        std::iter::from_fn(move || {
            if x == 0 {
                return None;
            }
            let t = x.trailing_zeros() as usize;
            x &= x - 1;
            Some(w * 64 + t)
        })
    })
}
