/** The roles in words (cloud/auth/roles.py), for the header and the accounts page. */

export const ROLES = {
  guard: "保安 Guard",
  operator: "值班员 Operator",
  engineer: "工程师 Engineer",
  parking: "车库 Parking",
  manager: "经理 Manager",
  admin: "管理员 Admin",
};

export const roleWords = (role) => ROLES[role] ?? role;
