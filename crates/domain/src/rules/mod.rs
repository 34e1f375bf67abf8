pub mod html;
pub mod text;
pub mod uri;
