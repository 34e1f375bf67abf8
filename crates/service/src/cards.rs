//! Link preview cards (Mastodon's `FetchLinkCardService`): the first link of a public post,
//! local or received, read on the `pull` queue through the federation port and kept once per
//! URL with a copy of its picture; the status shows it as its `card`.

use ferrodon_domain::model::{PreviewCard, Status, Visibility};
use ferrodon_domain::ports::JobContext;
use ferrodon_domain::rules::html;
use ferrodon_domain::rules::uri::authority;
use ferrodon_kernel::{Error, ErrorKind, Id, Result};

use crate::Services;
use crate::auth::now;

/// The address a status' card would show: its first link that is not a mention or a hashtag,
/// to another server, over http(s). `None` for a status that shows no card: a reblog, one
/// that is not public or unlisted, one with attachments, a remote one behind a content
/// warning (as Mastodon).
pub(crate) fn link_of(svc: &Services, status: &Status) -> Option<String> {
    if status.reblog_of_id.is_some()
        || !matches!(status.visibility, Visibility::Public | Visibility::Unlisted)
        || status.has_media()
        || (!status.local && !status.spoiler_text.is_empty())
    {
        return None;
    }
    let mentioned: Vec<String> = status.mentions().into_iter().map(|m| m.url).collect();
    let ours = [svc.config.local_domain.as_str(), svc.config.web_domain.as_str()];
    let web = |href: &str| {
        let scheme = href.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        matches!(scheme.as_deref(), Some("http" | "https"))
    };
    html::links(&status.content)
        .into_iter()
        .filter(|l| l.href.len() <= PreviewCard::URL_LIMIT)
        .filter(|l| !l.is_mention_or_hashtag() && !mentioned.contains(&l.href) && web(&l.href))
        .find(|l| authority(&l.href).is_some_and(|a| !ours.iter().any(|d| d.eq_ignore_ascii_case(&a))))
        .map(|l| l.href)
}

/// Whether `status` may show a card (a cheap look at its HTML: some link that is not a mention
/// or a hashtag), so pages of statuses without any ask for none.
pub(crate) fn may_have_card(status: &Status) -> bool {
    status.content.contains("<a ") && html::links(&status.content).iter().any(|l| !l.is_mention_or_hashtag())
}

/// The `FetchLinkCard` job: the card of `status_id`'s first link, from the card kept for that
/// address when it is fresh, else read from the page (and its picture kept here). A status
/// whose link changed or went loses its old card. A page that cannot be read leaves the status
/// without a card (not retried, as Mastodon); only our own failures are.
pub(crate) async fn fetch(svc: &Services, ctx: &JobContext, status_id: Id) -> Result<()> {
    let mut tx = svc.db.read().await?;
    let Some(status) = tx.status_by_id(status_id).await? else { return Ok(()) };
    let link = link_of(svc, &status);
    let shown = tx.cards_of(&[status_id]).await?.into_iter().next();
    if shown.as_ref().map(|(_, linked, _)| linked) == link.as_ref() {
        return Ok(());
    }
    let Some(link) = link else {
        let mut tx = svc.db.write().await?;
        tx.set_status_card(status_id, None).await?;
        return tx.commit().await;
    };
    let known = tx.card_by_url(&link).await?;
    drop(tx);
    // A fresh card is shown as it is; otherwise the page is read (again), and the picture
    // stored for this reading is what goes if the change does not commit.
    let (card, stored) = match known {
        Some(card) if card.fresh(now()) => (card, None),
        known => match read(svc, &link, known).await? {
            Some(card) => {
                let stored = card.image_key.clone();
                (card, Some(stored))
            }
            None => return Ok(()),
        },
    };
    let written = async {
        let mut tx = svc.db.write().await?;
        // Read again: the status may have been edited or deleted meanwhile.
        let still = tx.status_by_id(status_id).await?.and_then(|s| link_of(svc, &s));
        if still.as_deref() != Some(link.as_str()) {
            return Ok(false);
        }
        let id = match &stored {
            None => card.id,
            Some(image) => {
                // The row kept for the page's address (by another status, or an older
                // reading) takes this reading; the picture it named goes.
                let (id, replaced) = tx.upsert_card(&card).await?;
                let dropped = replaced.filter(|k| Some(k) != image.as_ref());
                crate::effects::files_dropped(&mut tx, dropped.into_iter().collect()).await?;
                id
            }
        };
        tx.set_status_card(status_id, Some((id, link.as_str()))).await?;
        if !ctx.complete_in(&mut tx).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok::<_, Error>(true)
    }
    .await;
    if !matches!(written, Ok(true))
        && let Some(Some(key)) = stored
    {
        crate::media::discard_files(svc, vec![key]).await;
    }
    written.map(|_| ())
}

/// Reads the page at `link` into a card (the row `known` keeps its id), with a copy of its
/// picture; `None` when the page cannot be read or has nothing to show.
async fn read(svc: &Services, link: &str, known: Option<PreviewCard>) -> Result<Option<PreviewCard>> {
    let preview = match svc.fediverse()?.link_preview(link).await {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(e) if e.kind == ErrorKind::Internal => return Err(e),
        Err(e) => {
            tracing::info!(url = %link, error = %e.message, "no preview card");
            return Ok(None);
        }
    };
    let at = now();
    // The row kept for the page's address keeps its id; a reading that names another address
    // (its canonical one changed, or oEmbed and OpenGraph took turns) is a card of its own.
    let id = known.filter(|k| k.preview.url == preview.url).map_or_else(Id::generate, |k| k.id);
    let mut card = PreviewCard { id, preview, image_key: None, blurhash: None, created_at: at, updated_at: at };
    if let Some(image) = card.preview.image_url.clone() {
        match crate::media::keep_card_image(svc, &image, id).await {
            Ok(kept) => {
                card.image_key = Some(kept.key);
                card.blurhash = kept.blurhash;
                // A page's picture gives a link card its size (Mastodon's `extract_dimensions`).
                if card.preview.kind == ferrodon_domain::model::CardKind::Link {
                    (card.preview.width, card.preview.height) = (kept.width, kept.height);
                }
            }
            Err(e) if e.kind == ErrorKind::Internal => return Err(e),
            Err(e) => tracing::info!(url = %image, error = %e.message, "preview card picture not kept"),
        }
    }
    Ok(Some(card))
}
