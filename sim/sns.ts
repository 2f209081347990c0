import type * as SNS from '@aws-sdk/client-sns';
import { deterministicUuid } from './ids';
import { serviceError } from './service-error';
import type { OperationInput } from './service-error';

type Result<T> = Omit<T, '$metadata'>;

export interface PublishedMessage {
  topicArn: string;
  messageId: string;
  subject?: string;
  message: string;
  messageAttributes: Record<string, SNS.MessageAttributeValue>;
  at: string;
}

export type SnsHandler = (message: PublishedMessage) => void | Promise<void>;

/** Default maximum for body plus message attributes (https://docs.aws.amazon.com/sns/latest/dg/large-message-payloads.html). */
export const SNS_MAX_MESSAGE_BYTES = 262_144;

export class SnsModel {
  /** `kmsKeyArn`: the topic's KmsMasterKeyId (server-side encryption), which publishers must be allowed to use. */
  readonly topics = new Map<string, { name: string; topicArn: string; kmsKeyArn?: string }>();
  readonly published: PublishedMessage[] = [];
  private readonly handlers = new Map<string, SnsHandler[]>();

  constructor(
    private readonly accountId: string,
    private readonly region: string,
    private readonly now: () => Date,
  ) {}

  createTopic(name: string, options: { kmsKeyArn?: string } = {}): string {
    const topicArn = `arn:aws:sns:${this.region}:${this.accountId}:${name}`;
    if (!this.topics.has(topicArn)) this.topics.set(topicArn, { name, topicArn, ...options });
    return topicArn;
  }

  /** In-process subscriber, called after each successful Publish to the topic; its errors do not fail the publish. */
  subscribe(topicArn: string, handler: SnsHandler): void {
    this.handlers.set(topicArn, [...(this.handlers.get(topicArn) ?? []), handler]);
  }

  async handle(operation: string, input: OperationInput): Promise<unknown> {
    if (operation === 'Publish') return this.publish(input as SNS.PublishInput);
    return undefined;
  }

  private async publish(input: SNS.PublishInput): Promise<Result<SNS.PublishResponse>> {
    const topicArn = input.TopicArn ?? input.TargetArn;
    if (!topicArn || !this.topics.has(topicArn)) throw serviceError('sns', 'NotFound', 404, 'Topic does not exist');
    if (!input.Message) throw serviceError('sns', 'InvalidParameter', 400, 'Invalid parameter: Empty message');
    // "Subjects must be ... no line breaks or control characters, and less than 100 characters long." (API_Publish)
    // eslint-disable-next-line no-control-regex -- SNS rejects control characters in a Subject
    if (input.Subject !== undefined && (input.Subject.length >= 100 || /[\r\n\u0000-\u001f]/.test(input.Subject))) {
      throw serviceError('sns', 'InvalidParameter', 400, 'Invalid parameter: Subject');
    }
    const size = Buffer.byteLength(input.Message) + attributeBytes(input.MessageAttributes ?? {});
    if (size > SNS_MAX_MESSAGE_BYTES) {
      throw serviceError('sns', 'InvalidParameter', 400, `Invalid parameter: Message too long (${size} bytes including message attributes; the limit is ${SNS_MAX_MESSAGE_BYTES})`);
    }
    const message: PublishedMessage = {
      topicArn,
      messageId: deterministicUuid(`sns/${topicArn}/${this.published.length}`),
      subject: input.Subject,
      message: input.Message,
      messageAttributes: { ...input.MessageAttributes },
      at: this.now().toISOString(),
    };
    this.published.push(message);
    for (const handler of this.handlers.get(topicArn) ?? []) {
      try {
        await handler(message);
      } catch {
        // A failing subscriber is SNS's delivery problem, not the publisher's.
      }
    }
    return { MessageId: message.messageId };
  }
}

/** Attribute names, data types and values all count toward the size limit. */
function attributeBytes(attributes: Record<string, SNS.MessageAttributeValue>): number {
  return Object.entries(attributes).reduce(
    (sum, [name, value]) =>
      sum + Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '') + (value.BinaryValue?.byteLength ?? 0),
    0,
  );
}
