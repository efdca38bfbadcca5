export { Notifier, type NotifierOptions } from './notifier.ts';
export { smtpMailer, memoryMailer, type Mailer, type Mail } from './mailer.ts';
export { breachMail, shanghai } from './templates.ts';
