pub mod text;
pub mod uri;
