//! Profile pictures: uploads in each accepted format are re-encoded to a 256-pixel PNG, so what
//! is served back is never the uploaded bytes (a polyglot file keeps only its pixels); wrong
//! types, huge dimensions, oversized and broken files are refused with a clear message and
//! change nothing; the picture shows next to the user's name, runs and comments.

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, RgbImage};
use reqwest::multipart::{Form, Part};

use crate::helpers::{ADMIN_EMAIL, TestApp};

/// A picture `w`×`h` in `format`, with a gradient so it is not trivially compressible.
fn picture(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w) as u8,
            (y * 255 / h) as u8,
            ((x + y) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// A PNG whose header claims `w`×`h` pixels, with no pixel data: a decompression bomb's header.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // A little compressed data: a real bomb's IDAT inflates to far more than it holds.
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

async fn upload(app: &TestApp, client: &reqwest::Client, bytes: Vec<u8>, name: &str) -> String {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str("image/png")
        .unwrap();
    let res = client
        .post(app.url("/account/avatar"))
        .multipart(Form::new().part("avatar", part))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    // The outcome is the flash message on the account page.
    let page = app.get(client, "/account").await.text().await.unwrap();
    let start = page.find("class=\"flash").expect("a flash message");
    let end = page[start..].find("</div>").unwrap() + start;
    page[start..end].to_owned()
}

/// The URL of the user's picture on the account page, if any.
fn avatar_url(page: &str, user: &str) -> Option<String> {
    let needle = format!("/avatars/{user}?v=");
    let start = page.find(&needle)?;
    let end = page[start..].find('"')? + start;
    Some(page[start..end].replace("&amp;", "&"))
}

#[tokio::test]
async fn uploads_are_reencoded_and_bad_files_refused() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let me = app.user_id(ADMIN_EMAIL).await;

    // Every accepted format, whatever the file is called, ends up a 256×256 PNG.
    let mut previous: Option<String> = None;
    for (format, name) in [
        (ImageFormat::Png, "me.png"),
        (ImageFormat::Jpeg, "me.jpg"),
        (ImageFormat::WebP, "me.gif"),
    ] {
        let sent = picture(640, 400, format);
        let flash = upload(&app, &admin, sent.clone(), name).await;
        assert!(
            flash.contains("Your picture is saved"),
            "{format:?}: {flash}"
        );
        let page = app.get(&admin, "/account").await.text().await.unwrap();
        let url = avatar_url(&page, &me.to_string()).expect("the header shows the picture");
        assert_ne!(Some(&url), previous.as_ref(), "a new picture is a new URL");
        let res = app.get(&admin, &url).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let served = res.bytes().await.unwrap().to_vec();
        assert_ne!(served, sent, "the uploaded bytes are never served back");
        let decoded = image::load_from_memory_with_format(&served, ImageFormat::Png).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 256));
        // The old picture's URL is gone with it.
        if let Some(old) = &previous {
            assert_eq!(app.get(&admin, old).await.status(), 404);
        }
        previous = Some(url);
    }

    // A polyglot: a real PNG with an HTML page and a script after its end. Only pixels survive.
    let mut polyglot = picture(300, 300, ImageFormat::Png);
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let flash = upload(&app, &admin, polyglot, "evil.png").await;
    assert!(flash.contains("Your picture is saved"), "{flash}");
    let page = app.get(&admin, "/account").await.text().await.unwrap();
    let url = avatar_url(&page, &me.to_string()).unwrap();
    let served = app.get(&admin, &url).await.bytes().await.unwrap();
    assert!(
        !served.windows(7).any(|w| w == b"<script"),
        "the appended script was served back"
    );
    let kept = url.clone();

    // Refusals name the problem and leave the current picture alone.
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[1, 0, 1, 0, 0, 0, 0, 0x3b]);
    let huge = png_header_only(100_000, 100_000);
    let mut truncated = picture(200, 200, ImageFormat::Png);
    truncated.truncate(truncated.len() / 2);
    let mut jpeg_cut = picture(200, 200, ImageFormat::Jpeg);
    jpeg_cut.truncate(40);
    let oversized = {
        let mut b = picture(64, 64, ImageFormat::Png);
        b.resize(6 * 1024 * 1024, 0);
        b
    };
    for (bytes, name, expected) in [
        (gif, "pic.png", "use a PNG, JPEG or WebP picture"),
        (
            b"<html><body>hello</body></html>".to_vec(),
            "page.png",
            "use a PNG, JPEG or WebP picture",
        ),
        (huge, "bomb.png", "100000×100000 pixels; at most 4096×4096"),
        (truncated, "half.png", "not a readable PNG picture"),
        (jpeg_cut, "cut.jpg", "not a readable JPEG picture"),
        (oversized, "big.png", "at most 5 MiB"),
        (Vec::new(), "empty.png", "choose a picture"),
    ] {
        let flash = upload(&app, &admin, bytes, name).await;
        assert!(flash.contains("flash-error"), "{name}: {flash}");
        assert!(flash.contains(expected), "{name}: {flash}");
        let page = app.get(&admin, "/account").await.text().await.unwrap();
        assert_eq!(
            avatar_url(&page, &me.to_string()).as_ref(),
            Some(&kept),
            "{name}"
        );
    }
    assert_eq!(app.get(&admin, &kept).await.status(), 200);

    // Pictures are for logged-in users only.
    let visitor = app.browser();
    let res = app.get(&visitor, &kept).await;
    assert_eq!(res.status(), 303);

    // Removing it goes back to initials; the URL answers 404.
    let res = admin
        .post(app.url("/account/avatar"))
        .multipart(Form::new().text("remove", "1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = app.get(&admin, "/account").await.text().await.unwrap();
    assert!(avatar_url(&page, &me.to_string()).is_none());
    assert_eq!(app.get(&admin, &kept).await.status(), 404);

    // Each change is in the audit log.
    let events = app
        .store
        .list_audit_events(&Default::default(), None, 200)
        .await
        .unwrap()
        .items;
    let avatar_events = events.iter().filter(|e| e.action == "user.avatar").count();
    assert_eq!(avatar_events, 5, "four uploads and one removal");
    app.stop().await;
}

#[tokio::test]
async fn pictures_show_next_to_comments_and_community_prompts() {
    let app = TestApp::spawn().await;
    let admin = app.setup_admin().await;
    let me = app.user_id(ADMIN_EMAIL).await;
    upload(&app, &admin, picture(100, 100, ImageFormat::Png), "me.png").await;
    let page = app.get(&admin, "/account").await.text().await.unwrap();
    let url = avatar_url(&page, &me.to_string()).unwrap();

    // A community prompt (an admin's is published at once) and a comment on it.
    let res = app
        .post_form(
            &admin,
            "/community",
            &[
                ("title", "Avatar check"),
                ("description", "A prompt to see the author's picture."),
                ("prompt", "Say hello to {{name}}."),
                ("tags", "test"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let prompt = crate::helpers::location(&res);
    let res = app
        .post_form(
            &admin,
            &format!("{prompt}/comments"),
            &[("body", "Nice one.")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let page = app.get(&admin, &prompt).await.text().await.unwrap();
    let shown = page.matches(&url.replace('&', "&amp;")).count();
    assert!(
        shown >= 3,
        "header, author and commenter show the picture ({shown} times)"
    );
    let list = app.get(&admin, "/community").await.text().await.unwrap();
    assert!(
        list.contains(&url.replace('&', "&amp;")),
        "the card shows it"
    );
    app.stop().await;
}
