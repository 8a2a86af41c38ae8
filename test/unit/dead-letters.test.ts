import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { attributeText, deadLetterMessageAttributes, MAX_REASON_LENGTH } from '#shared/dead-letters';
import { EventParseError } from '#shared/events/common';

/** What SQS accepts in a string attribute (XML characters), as a code point test. */
const sqsAccepts = (text: string) =>
  Array.from(text).every((character) => {
    const code = character.codePointAt(0) ?? 0;
    return (
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      code >= 0x10000
    );
  });

const record = (attributes: Partial<SQSRecord['attributes']> = {}) => ({
  messageId: 'message-1',
  eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:work',
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1790000000000',
    SenderId: 'sender',
    ApproximateFirstReceiveTimestamp: '1790000000000',
    ...attributes,
  },
});

describe('dead-letter attributes', () => {
  it('keep the reason to what SQS accepts: control characters and lone surrogates replaced, cut whole', () => {
    const reason = attributeText('unknown action "a\u0000b\u0007c\uD800" \t\n');
    expect(reason).toBe('unknown action "a\uFFFDb\uFFFDc\uFFFD" \t\n');
    const long = attributeText(`${'x'.repeat(MAX_REASON_LENGTH - 2)}😀😀😀`);
    expect(Array.from(long)).toHaveLength(MAX_REASON_LENGTH);
    expect(long.endsWith('x😀…')).toBe(true);
    expect(sqsAccepts(long)).toBe(true);
    expect(attributeText('short')).toBe('short');
  });

  it('say why, what failed and where it came from, leaving out what SQS would refuse', () => {
    const error = new EventParseError('marketplace-sns', 'SQS message body is not valid JSON');
    expect(deadLetterMessageAttributes(record(), error)).toEqual({
      reason: {
        DataType: 'String',
        StringValue: 'marketplace-sns event rejected: SQS message body is not valid JSON',
      },
      errorType: { DataType: 'String', StringValue: 'EventParseError' },
      sourceMessageId: { DataType: 'String', StringValue: 'message-1' },
      sourceQueueArn: { DataType: 'String', StringValue: 'arn:aws:sqs:us-east-1:123456789012:work' },
      sourceSentTimestamp: { DataType: 'Number', StringValue: '1790000000000' },
    });
    const bare = deadLetterMessageAttributes(
      { ...record({ SentTimestamp: 'soon' }), eventSourceARN: '' },
      new Error(''),
    );
    expect(Object.keys(bare).sort()).toEqual(['errorType', 'sourceMessageId']);
  });
});
