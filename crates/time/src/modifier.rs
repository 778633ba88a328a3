pub struct LocalDateTime; pub struct SnapUnit; pub struct Step; pub struct TimeSpec; pub struct Unit;
pub fn parse_modifier() {} pub fn resolve() {} pub fn relative_time() {}
