"""The service window: public guide, case query, appointments, 代办, 首问负责 enquiries, ratings and complaints."""
