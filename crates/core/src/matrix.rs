//! The rule index: for each matrix dimension, a bitset of the rules that accept each value
//! (plus those with no condition there). A lead's candidate rules are the AND over the
//! dimensions, so matching 2,000 rules costs a few hundred word operations instead of
//! 2,000 rule walks. Bit order is precedence order, so the first set bit wins.

use crate::config::{Dim, Rule};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

#[derive(Debug, Clone, Default)]
pub struct RuleIndex {
    words: usize,
    rules: usize,
    dims: Vec<DimIndex>,
}

#[derive(Debug, Clone, Default)]
struct DimIndex {
    /// No rule has a condition on this dimension: it filters nothing.
    open: bool,
    any: Vec<u64>,
    /// Per value: the rules that accept it, those with no condition here included (`any`
    /// folded in when built, so a lookup is one AND per word).
    by_value: FxHashMap<String, Vec<u64>>,
    /// Postal prefixes ("94*" as "94") and their rules; a lead's code is probed with
    /// each of its prefixes of a length in `prefix_lens` (ascending).
    by_prefix: FxHashMap<String, Vec<u64>>,
    prefix_lens: Vec<usize>,
}

/// The lead's value on each dimension, normalised like rule conditions.
pub type DimValues<'a> = [Option<&'a str>; 9];

/// A set of rules by position in precedence order; on the stack up to 4,096 rules.
pub type RuleBits = SmallVec<[u64; 64]>;

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
                        let p = v.trim_end_matches('*');
                        if !di.prefix_lens.contains(&p.len()) {
                            di.prefix_lens.push(p.len());
                        }
                        set(
                            di.by_prefix
                                .entry(p.to_string())
                                .or_insert_with(|| vec![0; words]),
                            i,
                        );
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
            di.prefix_lens.sort_unstable();
            di.open = di.by_value.is_empty() && di.by_prefix.is_empty();
            for bits in di.by_value.values_mut() {
                for (b, a) in bits.iter_mut().zip(&di.any) {
                    *b |= a;
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
        self.candidate_bits(values).into_vec()
    }

    /// [`Self::candidates`] without a heap allocation for up to 4,096 rules.
    pub fn candidate_bits(&self, values: &DimValues) -> RuleBits {
        let mut bits: RuleBits = smallvec::smallvec![u64::MAX; self.words];
        if !self.rules.is_multiple_of(64) {
            bits[self.words - 1] = (1u64 << (self.rules % 64)) - 1;
        }
        if self.rules == 0 {
            bits[0] = 0;
            return bits;
        }
        let acc: &mut [u64] = &mut bits;
        for (d, di) in Dim::ALL.iter().zip(&self.dims) {
            if di.open {
                continue;
            }
            let v = values[*d as usize];
            let exact = v.and_then(|v| di.by_value.get(v));
            // Prefix patterns the value starts with: a pattern of length l matches when the
            // value's first l bytes are it (and end on a character boundary).
            let mut prefixed: SmallVec<[&[u64]; 8]> = SmallVec::new();
            if let Some(v) = v {
                for &l in &di.prefix_lens {
                    if l > v.len() {
                        break;
                    }
                    if let Some(b) = v.get(..l).and_then(|p| di.by_prefix.get(p)) {
                        prefixed.push(b);
                    }
                }
            }
            // The rules that accept the value: those of the exact value (with `any`
            // folded in), else those with no condition here; plus the prefixes'.
            let accept = &exact.unwrap_or(&di.any)[..acc.len()];
            if prefixed.is_empty() {
                for (a, x) in acc.iter_mut().zip(accept) {
                    *a &= x;
                }
            } else {
                let mut ok: RuleBits = SmallVec::from_slice(accept);
                for p in &prefixed {
                    for (o, x) in ok.iter_mut().zip(p.iter()) {
                        *o |= x;
                    }
                }
                for (a, x) in acc.iter_mut().zip(&ok) {
                    *a &= x;
                }
            }
        }
        bits
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Layer, Origin, Target};

    /// The index agrees with checking every rule's conditions one by one.
    #[test]
    fn index_matches_rule_by_rule() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let vocab: [&[&str]; 9] = [
            &["smb", "mid_market", "enterprise"],
            &["software", "retail"],
            &["AMER", "EMEA"],
            &["US", "DE", "GB"],
            &["CA", "NY"],
            &["9*", "94*", "941*", "94105", "SW1*", "SW1A1AA", "*", "1*"],
            &["a", "b"],
            &["web", "event"],
            &["hot", "warm"],
        ];
        let leads: [&[&str]; 9] = [
            &["smb", "enterprise"],
            &["software", "retail"],
            &["AMER", "EMEA"],
            &["US", "DE"],
            &["CA", "NY"],
            &["94105", "94", "9", "941", "SW1A1AA", "SW1", "10001", "É9"],
            &["a", "b"],
            &["web", "event"],
            &["hot", "warm"],
        ];
        for words in [1, 2, 3] {
            let n = words * 64 - 7 * (words - 1);
            let rules: Vec<Rule> = (0..n)
                .map(|i| {
                    let conds: [Vec<String>; 9] = std::array::from_fn(|d| {
                        if next(3) != 0 {
                            return Vec::new();
                        }
                        (0..1 + next(2))
                            .map(|_| vocab[d][next(vocab[d].len())].to_string())
                            .collect()
                    });
                    Rule {
                        id: format!("r{i}"),
                        priority: 0,
                        conds,
                        target: Target::Queue(0),
                        layer: Layer::Segment,
                        specificity: 0,
                        note: None,
                        overrides_territory: false,
                        origin: Origin {
                            file: "t".into(),
                            line: i,
                        },
                    }
                })
                .collect();
            let index = RuleIndex::build(&rules);
            for _ in 0..500 {
                let values: DimValues =
                    std::array::from_fn(|d| (next(4) != 0).then(|| leads[d][next(leads[d].len())]));
                let got: Vec<usize> = ones(&index.candidate_bits(&values)).collect();
                let want: Vec<usize> = (0..n)
                    .filter(|&i| {
                        Dim::ALL
                            .iter()
                            .all(|&d| rules[i].accepts(d, values[d as usize]))
                    })
                    .collect();
                assert_eq!(got, want, "{values:?}");
                assert_eq!(
                    index.candidates(&values),
                    index.candidate_bits(&values).to_vec()
                );
            }
        }
    }
}
