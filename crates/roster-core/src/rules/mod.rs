//! Domain rules that need facts from storage but no storage of their own:
//! the store reads the facts, the rule decides.

pub mod hierarchy;
