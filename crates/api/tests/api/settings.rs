//! The settings pages of a signed-in browser: the profile (name, bio, avatar, fields, flags).

use std::io::Cursor;

use crate::support::*;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 4) as u8, (y * 4) as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

both_engines!(the_profile_page_changes_the_name_bio_avatar_and_fields, |app| async move {
    let (id, token) = app.create_user("painter").await;
    let mut browser = Browser::new();
    assert!(browser.get(&app, "/settings/profile").await.location().starts_with("/auth/sign_in?return_to="));
    let page = browser.get(&app, "/auth/sign_in").await;
    let csrf = hidden_input(&page.text(), "authenticity_token").unwrap();
    let email = email_of("painter");
    let pairs = [("authenticity_token", csrf.as_str()), ("user[email]", email.as_str()), ("user[password]", PASSWORD)];
    assert!(browser.post_form(&app, "/auth/sign_in", &pairs).await.status.is_redirection());
    let form = browser.get(&app, "/settings/profile").await;
    assert_eq!(form.status, StatusCode::OK);
    let csrf = hidden_input(&form.text(), "authenticity_token").unwrap();

    let fields = [
        ("authenticity_token", csrf.as_str()),
        ("display_name", "The Painter"),
        ("note", "I paint #colours"),
        ("fields_attributes[0][name]", "Studio"),
        ("fields_attributes[0][value]", "North light"),
        ("fields_attributes[1][name]", ""),
        ("fields_attributes[1][value]", ""),
        ("locked", "1"),
    ];
    let avatar = png(120, 90);
    let (content_type, body) = multipart_files(&fields, &[("avatar", "me.png", &avatar), ("header", "", b"")]);
    let cookie = browser.cookie.clone().unwrap();
    let saved =
        app.raw(Method::POST, "/settings/profile", ANON, Some((content_type, body)), &[("cookie", &cookie)]).await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert!(saved.text().contains("Changes saved"));

    let me = ok(app.get(&format!("/api/v1/accounts/{id}"), &token).await);
    assert_eq!(me["display_name"], "The Painter");
    assert!(me["note"].as_str().unwrap().contains("#<span>colours</span>"), "{me}");
    assert_eq!(me["fields"].as_array().map(Vec::len), Some(1), "{me}");
    assert_eq!(me["locked"], true);
    assert_eq!(me["bot"], false);
    let avatar_url = me["avatar"].as_str().unwrap();
    assert!(!avatar_url.ends_with("missing.png"), "{avatar_url}");
    let served = app.raw(Method::GET, &path_of(avatar_url), ANON, None, &[]).await;
    assert_eq!(served.status, StatusCode::OK);
    let image = image::load_from_memory(&served.body).unwrap();
    assert_eq!((image.width(), image.height()), (400, 400), "cropped to Mastodon's avatar size");

    // Without the form's token: refused, nothing changed.
    let (content_type, body) = multipart_files(&[("display_name", "Forged")], &[]);
    let forged =
        app.raw(Method::POST, "/settings/profile", ANON, Some((content_type, body)), &[("cookie", &cookie)]).await;
    assert!(forged.status.is_client_error(), "{}", forged.status);
    assert_eq!(ok(app.get(&format!("/api/v1/accounts/{id}"), &token).await)["display_name"], "The Painter");
});
