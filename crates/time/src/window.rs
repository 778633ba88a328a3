pub struct Window;
