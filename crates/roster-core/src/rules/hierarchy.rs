//! The company hierarchy: each user of a company may have a parent user in
//! the same company, and following parents must end (no cycle) within
//! [`MAX_DEPTH`] steps.
//!
//! The store reads the facts (the proposed parent and its ancestors, in one
//! bounded query, under a lock that serialises parent changes in the
//! company) and asks [`check_parent`] whether the change may go ahead.

use uuid::Uuid;

/// The most ancestors a user may have. The store reads at most
/// `MAX_DEPTH + 1` links up from a proposed parent, so a walk up the
/// hierarchy is bounded even if the data were ever corrupt.
pub const MAX_DEPTH: usize = 64;

/// What the rule needs to know about the proposed parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentFacts {
    /// The parent user's id.
    pub id: Uuid,
    /// The company the parent belongs to.
    pub company: Option<Uuid>,
}

/// Why a user may not have this parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HierarchyError {
    /// The user was named as its own parent.
    #[error("a user cannot be its own parent")]
    OwnParent,
    /// The parent is in another company, or the user has none.
    #[error("must be a user of the same company")]
    OtherCompany,
    /// The user is an ancestor of the parent.
    #[error("would make the company hierarchy a cycle")]
    Cycle,
    /// The user would have more than [`MAX_DEPTH`] ancestors.
    #[error("the company hierarchy is too deep")]
    TooDeep,
}

/// Whether `user`, of company `user_company`, may have `parent` as its
/// parent. `ancestors` is the parent's chain upwards (its parent first),
/// read up to `MAX_DEPTH` entries: a longer chain is refused as too deep.
pub fn check_parent(
    user: Uuid,
    user_company: Option<Uuid>,
    parent: &ParentFacts,
    ancestors: &[Uuid],
) -> Result<(), HierarchyError> {
    if parent.id == user {
        return Err(HierarchyError::OwnParent);
    }
    if user_company.is_none() || parent.company != user_company {
        return Err(HierarchyError::OtherCompany);
    }
    if ancestors.contains(&user) {
        return Err(HierarchyError::Cycle);
    }
    // The user's ancestors would be the parent and the parent's ancestors.
    if 1 + ancestors.len() > MAX_DEPTH {
        return Err(HierarchyError::TooDeep);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::new_v4()).collect()
    }

    #[test]
    fn a_user_of_the_same_company_is_a_parent() {
        let company = Some(Uuid::new_v4());
        let [user, parent, grand] = ids(3)[..] else {
            unreachable!()
        };
        let facts = ParentFacts {
            id: parent,
            company,
        };
        assert_eq!(check_parent(user, company, &facts, &[grand]), Ok(()));
        assert_eq!(check_parent(user, company, &facts, &[]), Ok(()));
    }

    #[test]
    fn a_user_is_not_its_own_parent() {
        let company = Some(Uuid::new_v4());
        let user = Uuid::new_v4();
        let facts = ParentFacts { id: user, company };
        let err = check_parent(user, company, &facts, &[]).unwrap_err();
        assert_eq!(err, HierarchyError::OwnParent);
        assert_eq!(err.to_string(), "a user cannot be its own parent");
    }

    #[test]
    fn the_parent_is_in_the_same_company() {
        let (user, parent) = (Uuid::new_v4(), Uuid::new_v4());
        let facts = ParentFacts {
            id: parent,
            company: Some(Uuid::new_v4()),
        };
        let err = check_parent(user, Some(Uuid::new_v4()), &facts, &[]).unwrap_err();
        assert_eq!(err, HierarchyError::OtherCompany);
        assert_eq!(err.to_string(), "must be a user of the same company");
        // A user without a company has no parent, even one without a company.
        let facts = ParentFacts {
            id: parent,
            company: None,
        };
        assert_eq!(
            check_parent(user, None, &facts, &[]),
            Err(HierarchyError::OtherCompany)
        );
    }

    #[test]
    fn an_ancestor_of_the_parent_is_not_its_child() {
        let company = Some(Uuid::new_v4());
        let [user, parent, other] = ids(3)[..] else {
            unreachable!()
        };
        let facts = ParentFacts {
            id: parent,
            company,
        };
        let err = check_parent(user, company, &facts, &[other, user]).unwrap_err();
        assert_eq!(err, HierarchyError::Cycle);
        assert_eq!(err.to_string(), "would make the company hierarchy a cycle");
    }

    #[test]
    fn the_chain_is_bounded() {
        let company = Some(Uuid::new_v4());
        let (user, parent) = (Uuid::new_v4(), Uuid::new_v4());
        let facts = ParentFacts {
            id: parent,
            company,
        };
        let deepest = ids(MAX_DEPTH - 1);
        assert_eq!(check_parent(user, company, &facts, &deepest), Ok(()));
        let too_deep = ids(MAX_DEPTH);
        let err = check_parent(user, company, &facts, &too_deep).unwrap_err();
        assert_eq!(err, HierarchyError::TooDeep);
        assert_eq!(err.to_string(), "the company hierarchy is too deep");
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// The parent's ancestors as a store reads them: up from the
        /// parent's parent, at most `MAX_DEPTH` entries.
        fn ancestors(parents: &[Option<usize>], ids: &[Uuid], of: usize) -> Vec<Uuid> {
            let mut chain = Vec::new();
            let mut cursor = parents[of];
            while let Some(next) = cursor {
                if chain.len() == MAX_DEPTH {
                    break;
                }
                chain.push(ids[next]);
                cursor = parents[next];
            }
            chain
        }

        fn has_cycle(parents: &[Option<usize>]) -> bool {
            (0..parents.len()).any(|start| {
                let mut cursor = parents[start];
                for _ in 0..parents.len() {
                    match cursor {
                        Some(next) if next == start => return true,
                        Some(next) => cursor = parents[next],
                        None => return false,
                    }
                }
                // More steps than users without ending: a cycle somewhere.
                cursor.is_some()
            })
        }

        /// A random forest: each user's parent, if any, comes before it.
        fn forest() -> impl Strategy<Value = Vec<Option<usize>>> {
            (1usize..40).prop_flat_map(|n| {
                (0..n)
                    .map(|i| {
                        if i == 0 {
                            Just(None).boxed()
                        } else {
                            proptest::option::of(0..i).boxed()
                        }
                    })
                    .collect::<Vec<_>>()
            })
        }

        proptest! {
            #[test]
            fn accepted_moves_never_make_a_cycle(
                start in forest(),
                moves in proptest::collection::vec((0usize..40, 0usize..40), 0..200),
            ) {
                let company = Some(Uuid::new_v4());
                let ids: Vec<Uuid> = (0..start.len()).map(|_| Uuid::new_v4()).collect();
                let mut parents = start;
                prop_assert!(!has_cycle(&parents));
                for (user, parent) in moves {
                    let (user, parent) = (user % parents.len(), parent % parents.len());
                    let facts = ParentFacts { id: ids[parent], company };
                    let chain = ancestors(&parents, &ids, parent);
                    if check_parent(ids[user], company, &facts, &chain).is_ok() {
                        parents[user] = Some(parent);
                        prop_assert!(!has_cycle(&parents));
                    } else {
                        // Refused moves are exactly the self-parent and cycles.
                        let mut cursor = Some(parent);
                        let mut is_ancestor = false;
                        while let Some(next) = cursor {
                            if next == user { is_ancestor = true; break; }
                            cursor = parents[next];
                        }
                        prop_assert!(is_ancestor || chain.len() + 1 > MAX_DEPTH);
                    }
                }
            }
        }
    }
}
