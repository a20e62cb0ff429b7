-- A mail larger than 1 MiB is kept as a file (content-addressed, beside the attachments) rather
-- than in the database: the driver copies a bound value several times, and a 30 MiB mail cost
-- hundreds of MiB. NULL for mail kept in `raw`.
ALTER TABLE messages ADD COLUMN raw_file TEXT;
