//! The external term format (to be written): a length scanner that
//! allocates nothing, a shape matcher on raw bytes, and an owned decoder.
