/**
 * The accounts page (/admin, admins only): users and API tokens. The forms go through the same
 * role check as every page's controls (roles.json), so a narrower account role never meets a 403.
 */

import { $ } from "./dom.js";
import { startTokens, setOwners } from "./admin-tokens.js";
import { startUsers } from "./admin-users.js";
import { offer } from "./permissions.js";
import { toast } from "./toast.js";

offer($("#user-form"), "POST", "/api/auth/users", { zh: "添加用户", en: "add users" });
offer($("#token-form"), "POST", "/api/auth/tokens", { zh: "生成令牌", en: "make API tokens" });
const failed = (error) => toast(`加载失败 Could not load: ${error.message}`, "error");
startUsers(setOwners).catch(failed);
startTokens().catch(failed);
