-- The account's language (issue 18): the language of the page the person
-- last signed in on or explicitly switched to while signed in ('zh-CN',
-- 'en'; NULL: not known yet). Notices about the account (SMS and mail)
-- are written in it, whoever set them off.
-- Same version numbers as the other database's migrations.
ALTER TABLE users ADD COLUMN lang TEXT;
