// netctl policy rm SANDBOX --allow|--deny DEST… (docs/reference.md §16).
import { editCommand } from './edit.js';

export default editCommand('rm', "Remove rules from a sandbox's egress policy");
