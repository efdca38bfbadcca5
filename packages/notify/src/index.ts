export {
  type Backoff,
  backoffDelay,
  DEFAULT_BACKOFF,
  type DispatchHooks,
  Dispatcher,
  type DispatcherOptions,
  type PassResult,
} from './dispatcher.ts';
export { type Channel, type ChannelAdapter, DeliveryError, type OutboundMessage } from './channels/port.ts';
export { nullAdapter } from './channels/null.ts';
export { emailChannel, type EmailChannelOptions } from './channels/email.ts';
export { webhookChannel, webhookSignature, type WebhookTarget } from './channels/webhook.ts';
export { wecomChannel } from './channels/wecom.ts';
export { dingtalkChannel, dingtalkSignedUrl } from './channels/dingtalk.ts';
export { smsChannel, type SmsGatewayOptions } from './channels/sms.ts';
export {
  type ClockFacts,
  clockName,
  deepLink,
  durationText,
  leftOrOverdue,
  renderRepostMessage,
  renderStepMessage,
  shanghaiTime,
  spanText,
  type StepKind,
  type StepMessageInput,
} from './step-templates.ts';
export {
  type Contact,
  contactsFor,
  type Directory,
  type DirectoryUnit,
  type LadderNotificationInput,
  NOBODY_ON_SHIFT,
  officersOnShift,
  planLadderNotifications,
  type RosterShift,
} from './ladder-notifications.ts';
export {
  type DirectoryOptions,
  loadAdmins,
  loadDirectory,
  loadDirectoryUnits,
  loadLeaders,
  loadRoster,
  loadUnitChannels,
} from './directory.ts';
export {
  alertNotificationKey,
  cancelSourceAlertNotifications,
  planSourceAlertNotifications,
  queueSourceAlertNotifications,
  renderSourceAlertMessage,
  type SourceAlert,
  type SourceAlertKind,
  type SourceAlertWiring,
} from './source-alerts.ts';
export { type DigestInput, type DigestOverdue, renderLeaderDigest } from './digest.ts';
export { CHANNEL_SETTING_KEYS, type ChannelSettings, ChannelSettingsError, channelsFromSettings } from './channels/from-env.ts';
export { type HandoverInput, renderHandover, renderWeeklyDigest, type SummaryItem, type WeeklyDigestInput } from './summaries.ts';
