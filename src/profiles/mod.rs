//! Profiles: profile pictures. An upload is decoded (PNG, JPEG or WebP only, told by its bytes,
//! within size and pixel limits), turned upright, cropped to a square and re-encoded as a
//! 256-pixel PNG, so no uploaded byte is ever served back: a polyglot file keeps only its
//! pixels. Pictures live in the blob store; the user record holds the key.
//!
//! A feature module: it combines the store and the blob store, never axum or maud.

use std::io::Cursor;
use std::sync::Arc;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::blob::Blobs;
use crate::domain::{NewAuditEvent, User, UserId, UserUpdate};
use crate::error::{Error, Result};
use crate::store::Store;

/// Largest upload accepted.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Largest width or height accepted.
pub const MAX_SIDE: u32 = 4096;
/// The side of the stored square picture.
pub const SIZE: u32 = 256;

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid("avatar", message)
}

/// Decodes, bounds and re-encodes an uploaded picture as a `SIZE`-pixel square PNG.
/// Blocking (CPU-bound): call it off the async runtime.
pub fn reencode(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.is_empty() {
        return Err(invalid("choose a picture to upload"));
    }
    if bytes.len() > MAX_BYTES {
        return Err(invalid(format!(
            "the picture is {:.1} MiB; at most {} MiB is accepted",
            bytes.len() as f64 / 1_048_576.0,
            MAX_BYTES / 1_048_576
        )));
    }
    // The bytes decide the format, never the file name or the declared type.
    let format = image::guess_format(bytes)
        .ok()
        .filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP))
        .ok_or_else(|| invalid("use a PNG, JPEG or WebP picture"))?;
    let unreadable = |e: image::ImageError| {
        tracing::debug!(error = %e, "avatar refused");
        invalid(format!(
            "the file is not a readable {} picture",
            format_name(format)
        ))
    };
    // The header alone says how large the picture claims to be; read it without limits so a
    // decompression bomb gets the message about its size.
    let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
    probe.no_limits();
    let (w, h) = probe.into_dimensions().map_err(unreadable)?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(invalid(format!(
            "the picture is {w}×{h} pixels; at most {MAX_SIDE}×{MAX_SIDE} is accepted"
        )));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    let side = picture.width().min(picture.height());
    let square = picture.crop_imm(
        (picture.width() - side) / 2,
        (picture.height() - side) / 2,
        side,
        side,
    );
    let small = square
        .resize_exact(SIZE, SIZE, image::imageops::FilterType::CatmullRom)
        .to_rgba8();
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(small)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
        .map_err(|e| Error::internal(format!("cannot encode the avatar: {e}")))?;
    Ok(out)
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        _ => "WebP",
    }
}

/// Profile pictures; cheap to clone.
#[derive(Clone)]
pub struct Profiles {
    store: Arc<dyn Store>,
    blobs: Blobs,
}

impl Profiles {
    /// The service over `store` and `blobs`.
    pub fn new(store: Arc<dyn Store>, blobs: Blobs) -> Self {
        Self { store, blobs }
    }

    /// Replaces `user`'s picture with the re-encoded upload. The old picture is removed once
    /// the new one is recorded.
    pub async fn set_avatar(
        &self,
        user: &User,
        bytes: Vec<u8>,
        ip: Option<String>,
    ) -> Result<User> {
        let png = tokio::task::spawn_blocking(move || reencode(&bytes))
            .await
            .map_err(|e| Error::internal(format!("avatar task failed: {e}")))??;
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| Error::internal(e.to_string()))?;
        let key = format!("avatars/{}/{}.png", user.id, hex::encode(random));
        self.blobs.put(&key, png).await?;
        let audit = NewAuditEvent::new(Some(user.id), "user.avatar")
            .target(format!("user:{}", user.id))
            .ip(ip)
            .detail("new profile picture");
        let update = UserUpdate {
            avatar: Some(Some(key.clone())),
            ..UserUpdate::default()
        };
        let updated = match self.store.update_user(user.id, update, audit).await {
            Ok(u) => u,
            Err(e) => {
                let _ = self.blobs.delete(&key).await;
                return Err(e);
            }
        };
        if let Some(old) = &user.avatar {
            // The record no longer points at it; a leftover file is only wasted space.
            if let Err(e) = self.blobs.delete(old).await {
                tracing::warn!(error = %e, key = old, "could not remove an old profile picture");
            }
        }
        Ok(updated)
    }

    /// Removes `user`'s picture.
    pub async fn remove_avatar(&self, user: &User, ip: Option<String>) -> Result<User> {
        let audit = NewAuditEvent::new(Some(user.id), "user.avatar")
            .target(format!("user:{}", user.id))
            .ip(ip)
            .detail("profile picture removed");
        let update = UserUpdate {
            avatar: Some(None),
            ..UserUpdate::default()
        };
        let updated = self.store.update_user(user.id, update, audit).await?;
        if let Some(old) = &user.avatar {
            // The record no longer points at it; a leftover file is only wasted space.
            if let Err(e) = self.blobs.delete(old).await {
                tracing::warn!(error = %e, key = old, "could not remove an old profile picture");
            }
        }
        Ok(updated)
    }

    /// The PNG of a user's picture, or `NotFound`; with `version`, only that version of it.
    pub async fn avatar_png(&self, id: UserId, version: Option<&str>) -> Result<Vec<u8>> {
        let user = self.store.get_user(id).await?;
        if version.is_some_and(|v| user.avatar_version() != Some(v)) {
            return Err(Error::NotFound);
        }
        let key = user.avatar.ok_or(Error::NotFound)?;
        self.blobs.get(&key).await
    }
}
