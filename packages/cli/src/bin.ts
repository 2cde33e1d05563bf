#!/usr/bin/env node
import { main } from "./program.js";

// Exit explicitly: the Kafka client may keep timers alive after it disconnected.
process.exit(await main(process.argv));
