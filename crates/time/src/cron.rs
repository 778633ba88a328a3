pub struct Schedule;
