//! Every rule of the domain, each a pure function over facts the caller has
//! loaded: no I/O, so each is unit- and property-tested here, and every
//! surface (through the application layer) and the storage layer (inside its
//! transactions) call the same one.

pub mod authority;
pub mod company;
pub mod group;
pub mod hierarchy;
pub mod invitation;
pub mod retention;
pub mod standing;
