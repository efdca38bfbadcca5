import nodemailer from 'nodemailer';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** Stable per queued mail, so a resend after a crash is recognisable as the same message. */
  messageId?: string;
}

/** Outbound mail port: SMTP in production, a recording adapter where no mail may leave. */
export interface Mailer {
  send(mail: Mail): Promise<{ messageId: string }>;
  close(): void;
}

export function smtpMailer(options: { url: string; from: string }): Mailer {
  const transport = nodemailer.createTransport(options.url);
  return {
    async send(mail) {
      const info = await transport.sendMail({
        from: options.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        ...(mail.messageId ? { messageId: mail.messageId } : {}),
      });
      return { messageId: String(info.messageId) };
    },
    close: () => transport.close(),
  };
}

/** Keeps mail in memory (embedded demo without SMTP): visible, never sent anywhere. */
export function memoryMailer(): Mailer & { sent: Mail[] } {
  const sent: Mail[] = [];
  return {
    sent,
    async send(mail) {
      sent.push(mail);
      return { messageId: mail.messageId ?? `<memory-${sent.length}@huiying.local>` };
    },
    close: () => undefined,
  };
}
