//! A person's rights over what mend keeps, in one folder: how long it is
//! kept ([`retention`]), the export and erasure queries ([`queries`]), and
//! Discord's `/export` and `/forget` (`discord`).

pub(crate) mod discord;
pub mod queries;
pub mod retention;
