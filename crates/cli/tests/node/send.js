// Sends events to a HEC with Splunk's own Node.js logger (npm splunk-logging), as an
// application would: one send per event, the event as given (no {message, severity}
// wrapper), the envelope time set per event from the event's own time (metadata.time),
// as a user forwarding old events must (HEC's envelope time wins over the event's).
//
// usage: node send.js URL TOKEN EVENTS.json
//   EVENTS.json: [{"time": epoch seconds, "sourcetype": "..." or null, "event": string or object}]
// Exits 0 after every event was answered success, else 1 with the reason.
"use strict";
const fs = require("fs");
const SplunkLogger = require("splunk-logging").Logger;

const [url, token, file] = process.argv.slice(2);
const events = JSON.parse(fs.readFileSync(file, "utf8"));
const logger = new SplunkLogger({ token, url, maxBatchCount: 1, maxRetries: 0 });
// Send the event itself, not the default {message, severity} wrapper.
logger.eventFormatter = (message) => message;
logger.error = (err, context) => {
  console.error(`splunk-logging error: ${err.message || err}`);
  process.exitCode = 1;
};

let pending = events.length;
for (const e of events) {
  const metadata = { time: new Date(Math.round(e.time * 1000)) };
  if (e.sourcetype) metadata.sourcetype = e.sourcetype;
  logger.send({ message: e.event, metadata }, (err, resp, body) => {
    const answer = typeof body === "string" ? JSON.parse(body) : body;
    if (err || !resp || resp.statusCode !== 200 || !answer || answer.code !== 0) {
      console.error(`not accepted: ${err || (resp && resp.statusCode)} ${JSON.stringify(body)}`);
      process.exitCode = 1;
    }
    if (--pending === 0) console.log(`sent ${events.length} event(s)`);
  });
}
