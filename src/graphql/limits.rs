//! Limits async-graphql does not have: a document's size once its fragments
//! are expanded, checked before async-graphql walks it.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// async-graphql's bound on how deeply selection sets and fragment spreads nest.
pub const MAX_RECURSIVE_DEPTH: usize = 32;

/// The size and height of a selection set with its fragments expanded.
#[derive(Clone, Copy)]
struct Expanded {
    selections: usize,
    height: usize,
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    /// `None` while a fragment is being sized: meeting it again is a cycle.
    fragments: HashMap<&'a str, Option<Expanded>>,
    max_selections: usize,
    max_depth: usize,
}

impl<'a> Walk<'a> {
    fn too_deep(&self) -> String {
        format!(
            "The recursion depth of the query cannot be greater than `{}`",
            self.max_depth
        )
    }

    fn too_large(&self) -> String {
        format!(
            "Query is too large: more than {} selections once its fragments are expanded",
            self.max_selections
        )
    }

    /// Each fragment is walked once, and recursion stops past `max_depth`,
    /// so a long chain of fragments cannot exhaust the stack here either.
    fn set(&mut self, set: &'a SelectionSet, depth: usize) -> Result<Expanded, String> {
        if depth > self.max_depth {
            return Err(self.too_deep());
        }
        let mut own = Expanded {
            selections: 0,
            height: 0,
        };
        for item in &set.items {
            let child = match &item.node {
                Selection::Field(field) if field.node.selection_set.node.items.is_empty() => None,
                Selection::Field(field) => {
                    Some(self.set(&field.node.selection_set.node, depth + 1)?)
                }
                Selection::InlineFragment(inline) => {
                    Some(self.set(&inline.node.selection_set.node, depth + 1)?)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.fragments.get(name).copied() {
                        Some(Some(known)) if depth + 1 + known.height > self.max_depth => {
                            return Err(self.too_deep());
                        }
                        Some(Some(known)) => Some(known),
                        Some(None) => return Err(format!("fragment `{name}` spreads itself")),
                        None => match self.doc.fragments.get(name) {
                            // An unknown fragment is left to validation.
                            None => None,
                            Some(fragment) => {
                                self.fragments.insert(name, None);
                                let sized =
                                    self.set(&fragment.node.selection_set.node, depth + 1)?;
                                self.fragments.insert(name, Some(sized));
                                Some(sized)
                            }
                        },
                    }
                }
            };
            own.selections = own.selections.saturating_add(1);
            if let Some(child) = child {
                own.selections = own.selections.saturating_add(child.selections);
                own.height = own.height.max(child.height + 1);
            }
            if own.selections > self.max_selections {
                return Err(self.too_large());
            }
        }
        Ok(own)
    }
}

/// The number of selections `doc` makes once its fragments are expanded, or
/// why it is refused: over `max_selections`, nested deeper than `max_depth`
/// (counted as async-graphql counts it), or a fragment that spreads itself.
///
/// A document that is only small until its fragments are expanded is refused
/// here, before async-graphql looks at it: async-graphql walks fragments
/// inline, with no memo (its recursion-depth check, then its complexity and
/// depth visitors), so ten fragments that each spread the previous one ten
/// times cost it 10^10 steps, synchronously on a runtime thread, where no
/// timeout can stop them. Here each fragment is sized once. Every selection
/// counts, `__typename` included, which the complexity limit does not count.
pub fn expanded_size(
    doc: &ExecutableDocument,
    max_selections: usize,
    max_depth: usize,
) -> Result<usize, String> {
    let mut walk = Walk {
        doc,
        fragments: HashMap::new(),
        max_selections,
        max_depth,
    };
    let mut total = 0usize;
    for (_, operation) in doc.operations.iter() {
        total = total.saturating_add(walk.set(&operation.node.selection_set.node, 0)?.selections);
        if total > max_selections {
            return Err(walk.too_large());
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(query: &str) -> Result<usize, String> {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        expanded_size(&doc, 2000, 32)
    }

    #[test]
    fn fragments_count_once_per_spread_and_are_walked_once() {
        assert_eq!(size("{ a b { c } }"), Ok(3));
        assert_eq!(
            size("{ ...F ...F x { ...F } } fragment F on Query { a b }"),
            Ok(3 * 3 + 1)
        );
        // Ten levels, each spreading the previous one ten times: 10^10
        // selections, refused after walking each fragment once.
        let mut bomb = String::from("{ ...F10 } fragment F0 on Query { __typename }");
        for i in 1..=10 {
            bomb.push_str(&format!(" fragment F{i} on Query {{"));
            for _ in 0..10 {
                bomb.push_str(&format!(" ...F{}", i - 1));
            }
            bomb.push_str(" }");
        }
        assert!(size(&bomb).unwrap_err().contains("too large"));
        let wide: String = (0..2001).map(|i| format!("a{i}: __typename ")).collect();
        assert!(
            size(&format!("{{ {wide} }}"))
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn cycles_and_depth_are_refused_without_deep_recursion() {
        assert_eq!(
            size("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            Err("fragment `A` spreads itself".into())
        );
        // A chain of fragments deeper than the limit, each spread once.
        let mut chain = String::from("{ ...F0 }");
        for i in 0..5000 {
            chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        chain.push_str(" fragment F5000 on Query { a }");
        assert!(size(&chain).unwrap_err().contains("recursion depth"));
        // A fragment first met shallow, then spread where it is too deep.
        let mut nested = String::from("{ ...F ");
        let mut close = String::new();
        for _ in 0..31 {
            nested.push_str("a { ");
            close.push_str("} ");
        }
        let query = format!("{nested}...F {close}}} fragment F on Query {{ b {{ c }} }}");
        assert!(size(&query).unwrap_err().contains("recursion depth"));
    }
}
