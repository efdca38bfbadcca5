-- A title stored on an alert that is about neither an incident, a duty nor a feed (issue #9): a
-- `delivery_failed` alert about a source-alert mail (feed_failing / channel_silent) had nothing
-- for the duty board to show. Set when the alert is raised; zh-CN, no personal data.
ALTER TABLE "alerts" ADD COLUMN "title" text;
