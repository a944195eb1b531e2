// The official OpenAI Node SDK against Promptyard's /v1: the two-step tool loop, streamed, with
// the SDK's stream helper assembling the tool call. Run by tests/it/clients.rs (it lives here to
// use this directory's pinned node_modules; the name keeps `node --test` from picking it up) with
// PROMPTYARD_BASE_URL, PROMPTYARD_KEY and PROMPTYARD_MODELS set, against fake upstreams that call
// get_weather until they get its result and then answer {"city": "Paris", "celsius": 21}.

import assert from 'node:assert/strict';
import OpenAI from 'openai';

const ANSWER = { city: 'Paris', celsius: 21 };
const TOOLS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

const client = new OpenAI({
  baseURL: process.env.PROMPTYARD_BASE_URL,
  apiKey: process.env.PROMPTYARD_KEY,
  maxRetries: 0,
});

async function streamedToolLoop(model) {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const first = client.chat.completions.stream({ model, messages, tools: TOOLS });
  let argumentDeltas = 0;
  first.on('tool_calls.function.arguments.delta', () => argumentDeltas++);
  const call = await first.finalChatCompletion();
  const choice = call.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  const [toolCall] = choice.message.tool_calls;
  assert.equal(toolCall.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(toolCall.function.arguments), { city: 'Paris' });
  assert.ok(argumentDeltas >= 1, 'arguments arrive as deltas');

  messages.push(choice.message);
  messages.push({ role: 'tool', tool_call_id: toolCall.id, content: JSON.stringify({ sky: 'sunny' }) });
  const second = client.chat.completions.stream({ model, messages, tools: TOOLS });
  let text = '';
  second.on('content', (delta) => (text += delta));
  const answer = await second.finalChatCompletion();
  assert.equal(answer.choices[0].finish_reason, 'stop');
  assert.deepEqual(JSON.parse(answer.choices[0].message.content), ANSWER);
  assert.equal(text, answer.choices[0].message.content);
}

async function badRequest(model) {
  await assert.rejects(
    client.chat.completions.create({
      model,
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'tool', tool_call_id: 'nope', content: 'x' },
      ],
      stream: true,
    }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages[1].tool_call_id',
  );
}

for (const model of process.env.PROMPTYARD_MODELS.split(',')) {
  for (const step of [streamedToolLoop, badRequest]) {
    try {
      await step(model);
    } catch (e) {
      console.error(`${model}: ${step.name} failed: ${e.stack ?? e}`);
      process.exit(1);
    }
    console.log(`${model}: ${step.name} ok`);
  }
}
console.log('all passed');
