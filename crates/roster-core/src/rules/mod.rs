//! Every rule of the domain, each a pure function over facts the caller has
//! loaded: no I/O, so each is unit- and property-tested here, and every
//! surface and the storage layer call the same one.

pub mod authority;
pub mod company;
pub mod invitation;
pub mod standing;
