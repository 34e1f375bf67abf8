-- Link previews (Mastodon's preview_cards): a page's description, once per URL, with a copy of
-- its picture in the file store; and which card each status shows (preview_cards_statuses).
CREATE TABLE preview_cards (
    id BIGINT PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    author_name TEXT NOT NULL DEFAULT '',
    author_url TEXT NOT NULL DEFAULT '',
    provider_name TEXT NOT NULL DEFAULT '',
    provider_url TEXT NOT NULL DEFAULT '',
    html TEXT NOT NULL DEFAULT '',
    width BIGINT NOT NULL DEFAULT 0,
    height BIGINT NOT NULL DEFAULT 0,
    image_url TEXT,
    image_description TEXT NOT NULL DEFAULT '',
    embed_url TEXT NOT NULL DEFAULT '',
    language TEXT,
    published_at BIGINT,
    image_key TEXT,
    blurhash TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE preview_cards_statuses (
    status_id BIGINT PRIMARY KEY REFERENCES statuses (id) ON DELETE CASCADE,
    preview_card_id BIGINT NOT NULL REFERENCES preview_cards (id) ON DELETE CASCADE,
    -- The address the status links (a page may give another as its canonical one).
    url TEXT NOT NULL
);
CREATE INDEX preview_cards_statuses_card ON preview_cards_statuses (preview_card_id);
CREATE INDEX preview_cards_statuses_url ON preview_cards_statuses (url);
