-- Limited ("silenced") accounts, as Mastodon's `accounts.silenced_at`: their posts leave the
-- public and hashtag timelines and their notifications reach only their followers. A domain
-- block of severity `silence` sets it on the domain's accounts to the block's `created_at` (so
-- lifting the block lifts only what it set), as `suspend` does with `suspended_at`.
ALTER TABLE accounts ADD COLUMN silenced_at BIGINT;
