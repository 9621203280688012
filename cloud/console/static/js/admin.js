/** The accounts page (/admin, admins only): users and API tokens. */

import { startTokens, setOwners } from "./admin-tokens.js";
import { startUsers } from "./admin-users.js";
import { toast } from "./toast.js";

const failed = (error) => toast(`加载失败 Could not load: ${error.message}`, "error");
startUsers(setOwners).catch(failed);
startTokens().catch(failed);
