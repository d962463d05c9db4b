// netctl policy add SANDBOX --allow|--deny DEST… (docs/reference.md §16).
import { editCommand } from './edit.js';

export default editCommand('add', "Add rules to a sandbox's egress policy");
