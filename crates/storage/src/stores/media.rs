use async_trait::async_trait;
use ferrodon_domain::model::{
    Account, CardKind, CustomEmoji, Focus, LinkPreview, Media, MediaKind, MediaState, PreviewCard, StatusMedia,
};
use ferrodon_domain::ports::{CardStore, EmojiStore, MediaStore};
use ferrodon_kernel::time::Millis;
use ferrodon_kernel::{Error, Id, Result};

use super::accounts::ACCOUNT_COLS;
use crate::sql::{Arg, SqlTx, args};

const COLS: &str = "id, account_id, status_id, kind, state, file_key, content_type, file_size, small_key, \
    upload_key, thumbnail_key, description, focus, blurhash, meta_json, created_at";

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: Id,
    account_id: Id,
    status_id: Option<Id>,
    kind: String,
    state: String,
    file_key: Option<String>,
    content_type: Option<String>,
    file_size: i64,
    small_key: Option<String>,
    upload_key: Option<String>,
    thumbnail_key: Option<String>,
    description: Option<String>,
    focus: Option<String>,
    blurhash: Option<String>,
    meta_json: String,
    created_at: Millis,
}

impl TryFrom<MediaRow> for Media {
    type Error = Error;
    fn try_from(r: MediaRow) -> Result<Media> {
        let focus = r.focus.as_deref().and_then(|f| {
            let (x, y) = f.split_once(',')?;
            Some(Focus { x: x.parse().ok()?, y: y.parse().ok()? })
        });
        Ok(Media {
            id: r.id,
            account_id: r.account_id,
            status_id: r.status_id,
            kind: MediaKind::try_from(r.kind).map_err(Error::internal)?,
            state: MediaState::try_from(r.state).map_err(Error::internal)?,
            file_key: r.file_key,
            content_type: r.content_type,
            file_size: r.file_size,
            small_key: r.small_key,
            upload_key: r.upload_key,
            thumbnail_key: r.thumbnail_key,
            description: r.description,
            focus,
            blurhash: r.blurhash,
            meta: serde_json::from_str(&r.meta_json).unwrap_or_default(),
            created_at: r.created_at,
        })
    }
}

fn rows(rows: Vec<MediaRow>) -> Result<Vec<Media>> {
    rows.into_iter().map(Media::try_from).collect()
}

fn focus_text(m: &Media) -> Option<String> {
    m.focus.map(|f| format!("{},{}", f.x, f.y))
}

#[async_trait]
impl MediaStore for SqlTx {
    async fn insert_media(&mut self, m: &Media) -> Result<()> {
        let meta = serde_json::to_string(&m.meta).map_err(Error::internal)?;
        self.exec(
            format!(
                "INSERT INTO media_attachments ({COLS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
            ),
            args![
                m.id,
                m.account_id,
                m.status_id,
                m.kind.as_str(),
                m.state.as_str(),
                &m.file_key,
                &m.content_type,
                m.file_size,
                &m.small_key,
                &m.upload_key,
                &m.thumbnail_key,
                &m.description,
                focus_text(m),
                &m.blurhash,
                meta,
                m.created_at
            ],
        )
        .await
        .map(|_| ())
    }

    async fn update_media(&mut self, m: &Media) -> Result<()> {
        let meta = serde_json::to_string(&m.meta).map_err(Error::internal)?;
        self.exec(
            "UPDATE media_attachments SET kind = $2, state = $3, file_key = $4, content_type = $5, \
             file_size = $6, small_key = $7, upload_key = $8, thumbnail_key = $9, description = $10, focus = $11, \
             blurhash = $12, meta_json = $13 WHERE id = $1",
            args![
                m.id,
                m.kind.as_str(),
                m.state.as_str(),
                &m.file_key,
                &m.content_type,
                m.file_size,
                &m.small_key,
                &m.upload_key,
                &m.thumbnail_key,
                &m.description,
                focus_text(m),
                &m.blurhash,
                meta
            ],
        )
        .await
        .map(|_| ())
    }

    async fn media_by_id(&mut self, id: Id) -> Result<Option<Media>> {
        let row: Option<MediaRow> =
            self.opt(format!("SELECT {COLS} FROM media_attachments WHERE id = $1"), args![id]).await?;
        row.map(Media::try_from).transpose()
    }

    async fn media_of_account(&mut self, account_id: Id, ids: &[Id]) -> Result<Vec<Media>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!("SELECT {COLS} FROM media_attachments WHERE account_id = $1 AND {}", self.in_ids("id", 2));
        rows(self.all(sql, args![account_id, ids]).await?)
    }

    async fn attach_media(&mut self, status_id: Id, ids: &[Id]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE media_attachments SET status_id = $1 WHERE {} AND (status_id IS NULL OR status_id = $1)",
            self.in_ids("id", 2)
        );
        self.exec(sql, args![status_id, ids]).await
    }

    async fn detach_media(&mut self, ids: &[Id]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!("UPDATE media_attachments SET status_id = NULL WHERE {}", self.in_ids("id", 1));
        self.exec(sql, args![ids]).await.map(|_| ())
    }

    async fn delete_unattached_media(&mut self, ids: &[Id]) -> Result<Vec<Id>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(sqlx::FromRow)]
        struct Deleted {
            id: Id,
        }
        let sql =
            format!("DELETE FROM media_attachments WHERE {} AND status_id IS NULL RETURNING id", self.in_ids("id", 1));
        let rows: Vec<Deleted> = self.all(sql, args![ids]).await?;
        Ok(rows.into_iter().map(|r| r.id).collect())
    }

    async fn media_of_status(&mut self, status_id: Id) -> Result<Vec<Media>> {
        rows(
            self.all(
                format!("SELECT {COLS} FROM media_attachments WHERE status_id = $1 ORDER BY id"),
                args![status_id],
            )
            .await?,
        )
    }

    async fn all_media_of_account(&mut self, account_id: Id) -> Result<Vec<Media>> {
        rows(self.all(format!("SELECT {COLS} FROM media_attachments WHERE account_id = $1"), args![account_id]).await?)
    }

    async fn unattached_media(&mut self, before: Millis, limit: i64) -> Result<Vec<Media>> {
        let sql = format!(
            "SELECT {COLS} FROM media_attachments WHERE status_id IS NULL AND created_at < $1 \
             ORDER BY created_at LIMIT $2"
        );
        rows(self.all(sql, args![before, limit]).await?)
    }

    async fn named_file_keys(&mut self) -> Result<Vec<String>> {
        #[derive(sqlx::FromRow)]
        struct Keys {
            a: Option<String>,
            b: Option<String>,
            c: Option<String>,
            d: Option<String>,
        }
        let mut keys = Vec::new();
        let media: Vec<Keys> = self
            .all(
                "SELECT file_key AS a, small_key AS b, upload_key AS c, thumbnail_key AS d FROM media_attachments",
                args![],
            )
            .await?;
        let accounts: Vec<Keys> = self
            .all(
                "SELECT avatar_file AS a, header_file AS b, NULL AS c, NULL AS d FROM accounts \
                 WHERE avatar_file IS NOT NULL OR header_file IS NOT NULL",
                args![],
            )
            .await?;
        let cards: Vec<Keys> = self
            .all(
                "SELECT image_key AS a, NULL AS b, NULL AS c, NULL AS d FROM preview_cards WHERE image_key IS NOT NULL",
                args![],
            )
            .await?;
        for k in media.into_iter().chain(accounts).chain(cards) {
            keys.extend([k.a, k.b, k.c, k.d].into_iter().flatten());
        }
        let mut after = Id(0);
        loop {
            let page = self.statuses_with_cached_media(Millis::MAX, after, 1000).await?;
            let Some((last, _)) = page.last() else { break };
            after = *last;
            for (_, media) in page {
                keys.extend(media.into_iter().flat_map(|m| [m.cached_key, m.cached_small_key]).flatten());
            }
        }
        Ok(keys)
    }

    async fn statuses_with_cached_media(
        &mut self,
        before: Millis,
        after: Id,
        limit: i64,
    ) -> Result<Vec<(Id, Vec<StatusMedia>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: Id,
            media_json: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT id, media_json FROM statuses WHERE local = FALSE AND has_media = TRUE \
                 AND media_json LIKE '%\"cached_key\"%' AND created_at < $1 AND id > $2 ORDER BY id LIMIT $3",
                args![before, after, limit],
            )
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, serde_json::from_str(&r.media_json).unwrap_or_default())).collect())
    }

    async fn cached_media_keys_of(&mut self, account_id: Id) -> Result<Vec<String>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            media_json: String,
        }
        let rows: Vec<Row> = self
            .all(
                "SELECT media_json FROM statuses WHERE account_id = $1 AND has_media = TRUE \
                 AND media_json LIKE '%\"cached_key\"%'",
                args![account_id],
            )
            .await?;
        Ok(rows
            .into_iter()
            .flat_map(|r| serde_json::from_str::<Vec<StatusMedia>>(&r.media_json).unwrap_or_default())
            .flat_map(|m| [m.cached_key, m.cached_small_key])
            .flatten()
            .collect())
    }

    async fn accounts_with_cached_images(&mut self, before: Millis, after: Id, limit: i64) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLS} FROM accounts a WHERE a.domain <> '' \
             AND (a.avatar_file IS NOT NULL OR a.header_file IS NOT NULL) \
             AND COALESCE(a.fetched_at, a.updated_at) < $1 AND a.id > $2 ORDER BY a.id LIMIT $3"
        );
        self.all(sql, args![before, after, limit]).await
    }

    async fn delete_media(&mut self, ids: &[Id]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!("DELETE FROM media_attachments WHERE {}", self.in_ids("id", 1));
        self.exec(sql, args![ids]).await.map(|_| ())
    }
}

const EMOJI_COLS: &str =
    "id, shortcode, image_key, static_key, content_type, category, visible_in_picker, disabled, created_at";

#[derive(sqlx::FromRow)]
struct EmojiRow {
    id: Id,
    shortcode: String,
    image_key: String,
    static_key: String,
    content_type: String,
    category: Option<String>,
    visible_in_picker: bool,
    disabled: bool,
    created_at: Millis,
}

impl From<EmojiRow> for CustomEmoji {
    fn from(r: EmojiRow) -> CustomEmoji {
        CustomEmoji {
            id: r.id,
            shortcode: r.shortcode,
            image_key: r.image_key,
            static_key: r.static_key,
            content_type: r.content_type,
            category: r.category,
            visible_in_picker: r.visible_in_picker,
            disabled: r.disabled,
            created_at: r.created_at,
        }
    }
}

#[async_trait]
impl EmojiStore for SqlTx {
    async fn upsert_custom_emoji(&mut self, e: &CustomEmoji) -> Result<()> {
        self.exec(
            format!(
                "INSERT INTO custom_emojis ({EMOJI_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (shortcode) DO UPDATE SET image_key = $3, static_key = $4, content_type = $5, \
                 category = $6, visible_in_picker = $7, disabled = $8"
            ),
            args![
                e.id,
                &e.shortcode,
                &e.image_key,
                &e.static_key,
                &e.content_type,
                &e.category,
                e.visible_in_picker,
                e.disabled,
                e.created_at
            ],
        )
        .await
        .map(|_| ())
    }

    async fn custom_emojis(&mut self) -> Result<Vec<CustomEmoji>> {
        let rows: Vec<EmojiRow> =
            self.all(format!("SELECT {EMOJI_COLS} FROM custom_emojis ORDER BY shortcode"), args![]).await?;
        Ok(rows.into_iter().map(CustomEmoji::from).collect())
    }

    async fn custom_emojis_named(&mut self, shortcodes: &[String]) -> Result<Vec<CustomEmoji>> {
        if shortcodes.is_empty() {
            return Ok(Vec::new());
        }
        // A list of texts binds like a list of ids (a JSON array on SQLite, an array on PostgreSQL).
        let sql = format!("SELECT {EMOJI_COLS} FROM custom_emojis WHERE {}", self.in_ids("shortcode", 1));
        let names = Arg::Texts(shortcodes.iter().cloned().map(Some).collect());
        let rows: Vec<EmojiRow> = self.all(sql, vec![names]).await?;
        Ok(rows.into_iter().map(CustomEmoji::from).collect())
    }
}

const CARD_COLS: &str = "id, url, kind, title, description, author_name, author_url, provider_name, provider_url, \
    html, width, height, image_url, image_description, embed_url, language, published_at, image_key, blurhash, \
    created_at, updated_at";

#[derive(sqlx::FromRow)]
struct CardRow {
    id: Id,
    url: String,
    kind: String,
    title: String,
    description: String,
    author_name: String,
    author_url: String,
    provider_name: String,
    provider_url: String,
    html: String,
    width: i64,
    height: i64,
    image_url: Option<String>,
    image_description: String,
    embed_url: String,
    language: Option<String>,
    published_at: Option<Millis>,
    image_key: Option<String>,
    blurhash: Option<String>,
    created_at: Millis,
    updated_at: Millis,
}

impl From<CardRow> for PreviewCard {
    fn from(r: CardRow) -> PreviewCard {
        PreviewCard {
            id: r.id,
            preview: LinkPreview {
                url: r.url,
                kind: CardKind::parse(&r.kind).unwrap_or(CardKind::Link),
                title: r.title,
                description: r.description,
                author_name: r.author_name,
                author_url: r.author_url,
                provider_name: r.provider_name,
                provider_url: r.provider_url,
                html: r.html,
                width: r.width,
                height: r.height,
                image_url: r.image_url,
                image_description: r.image_description,
                embed_url: r.embed_url,
                language: r.language,
                published_at: r.published_at,
            },
            image_key: r.image_key,
            blurhash: r.blurhash,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[async_trait]
impl CardStore for SqlTx {
    async fn card_by_url(&mut self, url: &str) -> Result<Option<PreviewCard>> {
        let sql = format!(
            "SELECT {CARD_COLS} FROM preview_cards WHERE url = $1 \
             OR id = (SELECT preview_card_id FROM preview_cards_statuses WHERE url = $1 LIMIT 1) \
             ORDER BY CASE WHEN url = $1 THEN 0 ELSE 1 END LIMIT 1"
        );
        let row: Option<CardRow> = self.opt(sql, args![url]).await?;
        Ok(row.map(PreviewCard::from))
    }

    async fn upsert_card(&mut self, c: &PreviewCard) -> Result<(Id, Option<String>)> {
        #[derive(sqlx::FromRow)]
        struct Kept {
            id: Id,
            image_key: Option<String>,
        }
        let p = &c.preview;
        let values = args![
            c.id,
            &p.url,
            p.kind.as_str(),
            &p.title,
            &p.description,
            &p.author_name,
            &p.author_url,
            &p.provider_name,
            &p.provider_url,
            &p.html,
            p.width,
            p.height,
            &p.image_url,
            &p.image_description,
            &p.embed_url,
            &p.language,
            p.published_at,
            &c.image_key,
            &c.blurhash,
            c.created_at,
            c.updated_at
        ];
        let inserted = self
            .exec(
                format!(
                    "INSERT INTO preview_cards ({CARD_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
                     $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) ON CONFLICT (url) DO NOTHING"
                ),
                values.clone(),
            )
            .await?;
        if inserted == 1 {
            return Ok((c.id, None));
        }
        // The address has its row: locked (on PostgreSQL; SQLite has one writer) before it is
        // read, so the picture it names now is the one this change replaces.
        let lock = if self.is_postgres() { " FOR UPDATE" } else { "" };
        let kept: Kept =
            self.one(format!("SELECT id, image_key FROM preview_cards WHERE url = $1{lock}"), args![&p.url]).await?;
        // The same values but the id and the creation time.
        let mut update: Vec<Arg> = values[1..19].to_vec();
        update.push(values[20].clone());
        self.exec(
            "UPDATE preview_cards SET kind = $2, title = $3, description = $4, author_name = $5, author_url = $6, \
             provider_name = $7, provider_url = $8, html = $9, width = $10, height = $11, image_url = $12, \
             image_description = $13, embed_url = $14, language = $15, published_at = $16, image_key = $17, \
             blurhash = $18, updated_at = $19 WHERE url = $1",
            update,
        )
        .await?;
        Ok((kept.id, kept.image_key))
    }

    async fn set_status_card(&mut self, status_id: Id, card: Option<(Id, &str)>) -> Result<()> {
        self.exec("DELETE FROM preview_cards_statuses WHERE status_id = $1", args![status_id]).await?;
        if let Some((card_id, url)) = card {
            self.exec(
                "INSERT INTO preview_cards_statuses (status_id, preview_card_id, url) VALUES ($1, $2, $3) \
                 ON CONFLICT (status_id) DO UPDATE SET preview_card_id = $2, url = $3",
                args![status_id, card_id, url],
            )
            .await?;
        }
        Ok(())
    }

    async fn cards_of(&mut self, status_ids: &[Id]) -> Result<Vec<(Id, String, PreviewCard)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            status_id: Id,
            linked: String,
            #[sqlx(flatten)]
            card: CardRow,
        }
        if status_ids.is_empty() {
            return Ok(Vec::new());
        }
        let cols: Vec<String> = CARD_COLS.split(", ").map(|c| format!("c.{c}")).collect();
        let sql = format!(
            "SELECT s.status_id, s.url AS linked, {} FROM preview_cards_statuses s JOIN preview_cards c ON c.id = s.preview_card_id \
             WHERE {}",
            cols.join(", "),
            self.in_ids("s.status_id", 1)
        );
        let rows: Vec<Row> = self.all(sql, args![status_ids]).await?;
        Ok(rows.into_iter().map(|r| (r.status_id, r.linked, PreviewCard::from(r.card))).collect())
    }
}
